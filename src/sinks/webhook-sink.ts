import { RotorError } from '../core/errors.js';
import type { WebhookSink } from '../core/sink.js';
import type { SinkEvent } from './sink-event.js';

const TIMEOUT_MS = 5_000;

/** POSTs `{event, secret, version, at}`: the receiver learns that a new value exists, never the value. */
export async function deliverWebhookSink(sink: WebhookSink, event: SinkEvent): Promise<void> {
  const where = shown(sink.url);
  let response: Response;
  try {
    response = await fetch(sink.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        event: event.event,
        secret: event.secret,
        version: event.version,
        at: event.at.toISOString(),
      }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
      // A redirect would be followed without the policy's say; the configured URL must answer itself.
      redirect: 'manual',
    });
  } catch (error) {
    const reason =
      error instanceof Error && error.name === 'TimeoutError'
        ? `no answer within ${TIMEOUT_MS / 1000}s`
        : unreachable(error);
    throw new RotorError('ERR_SINK_FAILED', `webhook ${where}: ${reason}`, { cause: error });
  }
  await response.body?.cancel();
  if (response.status < 200 || response.status > 299)
    throw new RotorError('ERR_SINK_FAILED', `webhook ${where} answered HTTP ${response.status}`);
}

/** The URL without credentials or query, which may carry a token. */
function shown(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

function unreachable(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return `unreachable (${cause?.code ?? cause?.message ?? (error as Error).message})`;
}
