import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { RotorError } from '../core/errors.js';
import type { SecretValue } from '../core/secret-value.js';
import { DEFAULT_FILE_MODE, type FileSink, fileModeOf } from '../core/sink.js';
import { fileContents } from './file-contents.js';
import type { SinkEvent } from './sink-event.js';

/**
 * Replaces the file atomically: a reader sees the old contents or the new,
 * never a mix. The new contents go to a temporary file in the same directory
 * (a rename is atomic only within one file system), flushed, then renamed over.
 */
export async function deliverFileSink(
  sink: FileSink,
  event: SinkEvent,
  value: SecretValue,
): Promise<void> {
  // Stored policies were validated; for anything else the strictest default is the safe reading.
  const mode = fileModeOf(sink.mode) ?? DEFAULT_FILE_MODE;
  const directory = dirname(sink.path);
  const temp = join(directory, `.${basename(sink.path)}.rotor-${randomBytes(6).toString('hex')}`);
  const contents = fileContents(sink.format, event, value);
  try {
    // 0600 until chmod: nobody else can open it meanwhile, and the umask cannot narrow the mode asked for.
    const file = await open(temp, 'wx', 0o600);
    try {
      await file.chmod(mode);
      await file.writeFile(contents);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, sink.path);
    await syncDirectory(directory);
  } catch (error) {
    await rm(temp, { force: true });
    throw new RotorError('ERR_SINK_FAILED', `cannot write ${sink.path}: ${describe(error)}`, {
      cause: error,
    });
  } finally {
    contents.fill(0);
  }
}

/** Makes the rename itself survive a power cut. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function describe(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'its directory does not exist';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return error instanceof Error ? error.message : String(error);
}
