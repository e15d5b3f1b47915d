import { z } from 'zod';
import { allows } from '../../access/token-policy.js';
import { STAGES } from '../../core/secret.js';
import { SecretValue } from '../../core/secret-value.js';
import {
  revealedJson,
  secretJson,
  summaryJson,
  versionJson,
} from '../../service/representations.js';
import { MAX_VALUE_BYTES, selectorFor } from '../../service/secret-service.js';
import { defineOperation } from '../operation.js';
import type { ServerServices } from '../server-services.js';
import { valueEtag, waitForValueChange } from '../value-etag.js';
import { prefixFilter } from './query-fields.js';

const jsonObject = z.record(z.string(), z.unknown(), { error: 'expected an object' });
const valueField = z
  .string({ error: 'expected the value as a string' })
  .min(1, { error: 'expected a non-empty value' })
  .max(MAX_VALUE_BYTES, { error: `expected at most ${MAX_VALUE_BYTES} bytes` });

const createBody = z.strictObject({
  name: z.string({ error: 'expected a secret name such as prod/db/app' }),
  type: z.string({ error: 'expected a secret type such as api-key or postgres' }),
  config: jsonObject.optional(),
  policy: jsonObject.optional(),
  value: valueField.optional(),
});

const listQuery = z.strictObject({ prefix: prefixFilter.optional() });

const valueQuery = z
  .strictObject({
    stage: z.enum(STAGES, { error: 'expected current, previous or pending' }).optional(),
    version: z.coerce
      .number({ error: 'expected a version number' })
      .int({ error: 'expected a version number' })
      .min(1, { error: 'expected a version number' })
      .optional(),
    wait: z.coerce
      .number({ error: 'expected seconds to wait, 1 to 60' })
      .int({ error: 'expected seconds to wait, 1 to 60' })
      .min(1, { error: 'expected seconds to wait, 1 to 60' })
      .max(60, { error: 'expected seconds to wait, 1 to 60' })
      .optional(),
  })
  .refine((q) => q.stage === undefined || q.version === undefined, {
    error: 'expected either stage or version, not both',
  });

const patchBody = z
  .strictObject({ policy: jsonObject.optional(), config: jsonObject.optional() })
  .refine((b) => b.policy !== undefined || b.config !== undefined, {
    error: 'expected policy or config',
  });

const putBody = z.strictObject({ value: valueField });
const verifyBody = z.strictObject({
  value: z.string({ error: 'expected the presented value' }).max(MAX_VALUE_BYTES),
});

export function secretOperations({ secrets, events, streams }: ServerServices) {
  return [
    defineOperation<undefined, z.infer<typeof createBody>>({
      id: 'createSecret',
      method: 'POST',
      path: '/v1/secrets',
      summary: 'Create a secret; its first value is generated unless given',
      access: { scope: 'bodyName', capability: 'write' },
      body: createBody,
      status: 201,
      auditsItself: true,
      async handle({ body, token }) {
        const created = await secrets.create(
          {
            ...body,
            value: body.value === undefined ? undefined : SecretValue.fromString(body.value),
          },
          token.id,
        );
        return secretJson(created);
      },
    }),
    defineOperation<z.infer<typeof listQuery>>({
      id: 'listSecrets',
      method: 'GET',
      path: '/v1/secrets',
      summary: 'List the secrets the token may list (never values)',
      access: { scope: 'filtered', capability: 'list' },
      query: listQuery,
      async handle({ query, token }) {
        const all = await secrets.list(query.prefix);
        return all.filter((s) => allows(token.policy, 'list', s.name)).map(summaryJson);
      },
    }),
    defineOperation({
      id: 'getSecret',
      method: 'GET',
      path: '/v1/secrets/{name}',
      summary: 'Metadata, policy, state and next rotation of a secret (no value)',
      access: { scope: 'secret', capability: 'list' },
      async handle({ name }) {
        return secretJson(await secrets.describe(name));
      },
    }),
    defineOperation<z.infer<typeof valueQuery>>({
      id: 'getSecretValue',
      method: 'GET',
      path: '/v1/secrets/{name}:value',
      summary:
        'A value (current by default). Sends an ETag; with If-None-Match answers 304 when unchanged, after waiting up to `wait` seconds for a change',
      access: { scope: 'secret', capability: 'read' },
      query: valueQuery,
      auditsItself: true,
      async handle({ name, query, token, request, reply }) {
        const selector = selectorFor(query.stage, query.version);
        const known = request.headers['if-none-match'];
        if (known !== undefined) {
          const unchanged = await waitForValueChange(
            { secrets, events, closers: streams },
            name,
            selector,
            known,
            query.wait,
          );
          if (unchanged) {
            reply.code(304).header('etag', known);
            return undefined;
          }
        }
        const read = await secrets.reveal(name, selector, token.id);
        reply.header('etag', valueEtag(read.version.number)).header('cache-control', 'no-store');
        return revealedJson(read);
      },
    }),
    defineOperation({
      id: 'listSecretVersions',
      method: 'GET',
      path: '/v1/secrets/{name}:versions',
      summary: "A secret's versions with their stages (never values)",
      access: { scope: 'secret', capability: 'list' },
      async handle({ name }) {
        return (await secrets.history(name)).map(versionJson);
      },
    }),
    defineOperation<undefined, z.infer<typeof putBody>>({
      id: 'putSecretValue',
      method: 'POST',
      path: '/v1/secrets/{name}:put',
      summary:
        'Store a new value as current; the old one stays valid as previous for the grace period',
      access: { scope: 'secret', capability: 'write' },
      body: putBody,
      status: 201,
      auditsItself: true,
      async handle({ name, body, token }) {
        const version = await secrets.put(name, SecretValue.fromString(body.value), token.id);
        return { name, ...versionJson(version) };
      },
    }),
    defineOperation<undefined, z.infer<typeof patchBody>>({
      id: 'updateSecret',
      method: 'PATCH',
      path: '/v1/secrets/{name}',
      summary: "Change a secret's policy or config (the next rotation is planned again)",
      access: { scope: 'secret', capability: 'write' },
      body: patchBody,
      auditsItself: true,
      async handle({ name, body, token }) {
        return secretJson(await secrets.update(name, body, token.id));
      },
    }),
    defineOperation({
      id: 'deleteSecret',
      method: 'DELETE',
      path: '/v1/secrets/{name}',
      summary: 'Delete a secret and destroy all its versions (409 while a rotation is in flight)',
      access: { scope: 'secret', capability: 'write' },
      status: 204,
      auditsItself: true,
      async handle({ name, token }) {
        await secrets.delete(name, token.id);
        return undefined;
      },
    }),
    defineOperation({
      id: 'resumeSecret',
      method: 'POST',
      path: '/v1/secrets/{name}:resume',
      summary: 'Lift needs-attention: forget failures and rotate at the next run',
      access: { scope: 'secret', capability: 'rotate' },
      auditsItself: true,
      async handle({ name, token }) {
        return secretJson(await secrets.resume(name, token.id));
      },
    }),
    defineOperation<undefined, z.infer<typeof verifyBody>>({
      id: 'verifySecretValue',
      method: 'POST',
      path: '/v1/secrets/{name}:verify',
      summary:
        'Whether a presented value is valid now (current, or previous within grace); compared in constant time',
      access: { scope: 'secret', capability: 'read' },
      body: verifyBody,
      auditsItself: true,
      async handle({ name, body, token }) {
        const { valid, stage } = await secrets.verifyPresented(
          name,
          SecretValue.fromString(body.value),
          token.id,
        );
        return { valid, stage };
      },
    }),
  ];
}
