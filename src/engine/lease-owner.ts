import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/** A lease owner id: host, process id and a random suffix, so it is unique per engine. */
export function newLeaseOwner(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/**
 * True when `owner` was a process on this host that no longer exists, so its
 * lease can be taken at once instead of waiting for it to expire. Owners on
 * other hosts are never presumed dead.
 */
export function isLeaseOwnerDead(owner: string): boolean {
  const [host, pidText] = owner.split(':');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0 || pid === process.pid)
    return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
