import type { SecretService } from '../service/secret-service.js';
import type { VersionSelector } from '../store/store.js';
import type { EventFeed, PendingChange } from './event-feed.js';

/** A value's ETag is its version number: a version's value never changes. */
export function valueEtag(version: number): string {
  return `"${version}"`;
}

/**
 * True when the selected value still has the ETag the client holds, after
 * waiting up to `waitSeconds` for an event about the secret. Answers without
 * reading any value, so a 304 costs no decryption and reveals nothing. A
 * server shutting down calls the closer it adds to `closers`: the wait ends
 * early, as unchanged so far.
 */
export async function waitForValueChange(
  wait: {
    readonly secrets: SecretService;
    readonly events: EventFeed;
    readonly closers: Set<() => void>;
  },
  name: string,
  selector: VersionSelector,
  known: string,
  waitSeconds: number | undefined,
): Promise<boolean> {
  const deadline = Date.now() + (waitSeconds ?? 0) * 1000;
  let closing = false;
  let changed: PendingChange | undefined;
  const close = () => {
    closing = true;
    changed?.cancel();
  };
  wait.closers.add(close);
  try {
    for (;;) {
      // Subscribing before reading closes the gap where a change lands in between.
      changed = wait.events.nextFor(name, Math.max(0, deadline - Date.now()));
      const current = await selectedEtag(wait.secrets, name, selector);
      if (current !== known || 'version' in selector || closing || Date.now() >= deadline) {
        changed.cancel();
        return current === known;
      }
      await changed.promise;
    }
  } finally {
    wait.closers.delete(close);
  }
}

async function selectedEtag(
  secrets: SecretService,
  name: string,
  selector: VersionSelector,
): Promise<string | undefined> {
  const versions = await secrets.history(name);
  const match = versions.find((v) =>
    'version' in selector ? v.number === selector.version : v.stage === selector.stage,
  );
  return match === undefined ? undefined : valueEtag(match.number);
}
