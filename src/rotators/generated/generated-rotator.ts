import { RotorError } from '../../core/errors.js';
import { SecretValue } from '../../core/secret-value.js';
import { describeZodError } from '../../core/zod-issues.js';
import type { Rotator, RotatorSecret } from '../rotator.js';
import { type GeneratedType, generateValue, parseGeneratorConfig } from './value-generators.js';
import { callWebhook, type Webhook, type WebhookStep, webhookSchema } from './webhook-hook.js';

/**
 * A rotator for values Rotor generates itself. Without a webhook there is no
 * target: the versions and the grace period are the whole protocol.
 */
export function generatedRotator(type: GeneratedType): Rotator {
  return {
    parseConfig(raw) {
      if (!isObject(raw)) return { ...parseGeneratorConfig(type, raw) };
      const { webhook, ...rest } = raw;
      const config: Record<string, unknown> = { ...parseGeneratorConfig(type, rest) };
      if (webhook !== undefined) config.webhook = parseWebhook(type, webhook);
      return config;
    },
    async generate(secret) {
      const { webhook: _, ...config } = secret.config;
      return SecretValue.fromString(generateValue(type, parseGeneratorConfig(type, config)));
    },
    async apply({ secret, pending }) {
      await hook(secret, 'apply', pending.version, pending.value);
    },
    async verify({ secret, pending }) {
      await hook(secret, 'verify', pending.version, pending.value);
    },
    async retire({ secret, retiring }) {
      await hook(secret, 'retire', retiring.version, retiring.value);
    },
    async rollback({ secret, pending }) {
      await hook(secret, 'rollback', pending.version, pending.value);
    },
    async check(secret, current) {
      if (!secret.config.webhook) return 'no-target';
      await hook(secret, 'check', current.version, current.value);
      return 'accepted';
    },
    validateValue() {
      // Any non-empty value up to the size limit is a valid key or password given by the user.
    },
  };
}

async function hook(
  secret: RotatorSecret,
  step: WebhookStep,
  version: number,
  value: SecretValue,
): Promise<void> {
  const webhook = secret.config.webhook as Webhook | undefined;
  if (webhook) await callWebhook(webhook, step, secret.name, version, value);
}

function parseWebhook(type: GeneratedType, raw: unknown): Webhook {
  const parsed = webhookSchema.safeParse(raw);
  if (!parsed.success) {
    const detail = describeZodError(parsed.error, raw, Object.keys(webhookSchema.shape));
    throw new RotorError(
      'ERR_INVALID_CONFIG',
      `invalid config for type ${type}: webhook.${detail}`,
    );
  }
  return parsed.data;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
