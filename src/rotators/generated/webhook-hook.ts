import { z } from 'zod';
import { RotorError } from '../../core/errors.js';
import type { SecretValue } from '../../core/secret-value.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * The optional HTTP hook of a generated secret: the service that must accept
 * the value learns it at apply, proves it at verify and forgets it at retire
 * or rollback. A 2xx answer is success.
 */
export const webhookSchema = z.strictObject({
  url: z.url({ error: 'expected an http(s) URL' }).refine(
    (text) => {
      const url = new URL(text);
      return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
    },
    {
      error: 'expected an https URL (plain http only to localhost): the value travels in the body',
    },
  ),
  timeoutMs: z.int().min(100).max(120_000).default(10_000),
});

export type Webhook = z.output<typeof webhookSchema>;
/** `check` is the drift check: like verify, but for the current value. */
export type WebhookStep = 'apply' | 'verify' | 'retire' | 'rollback' | 'check';

export async function callWebhook(
  hook: Webhook,
  step: WebhookStep,
  secret: string,
  version: number,
  value: SecretValue,
): Promise<void> {
  const target = `${new URL(hook.url).origin} (${step} of ${secret} version ${version})`;
  let response: Response;
  try {
    response = await fetch(hook.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ step, secret, version, value: value.reveal() }),
      signal: AbortSignal.timeout(hook.timeoutMs),
      redirect: 'error',
    });
  } catch (error) {
    const reason =
      error instanceof Error
        ? error.cause instanceof Error
          ? error.cause.message
          : error.message
        : String(error);
    throw new RotorError('ERR_TARGET_UNREACHABLE', `webhook ${target} failed: ${reason}`);
  }
  await response.body?.cancel();
  if (!response.ok) {
    throw new RotorError(
      'ERR_TARGET_REJECTED',
      `webhook ${target} answered HTTP ${response.status}`,
    );
  }
}
