import { z } from 'zod';
import { tokenPolicySchema } from '../../access/token-policy.js';
import { tokenJson } from '../../service/representations.js';
import { defineOperation } from '../operation.js';
import type { ServerServices } from '../server-services.js';

const createBody = z.strictObject({
  name: z.string({ error: 'expected a name' }).optional(),
  policy: tokenPolicySchema,
  ttl: z.string({ error: 'expected a duration such as 30d' }).optional(),
});

export function tokenOperations({ tokens }: ServerServices) {
  return [
    defineOperation<undefined, z.infer<typeof createBody>>({
      id: 'createToken',
      method: 'POST',
      path: '/v1/tokens',
      summary: 'Issue a token; its value is in this response only',
      access: { scope: 'everywhere', capability: 'admin' },
      body: createBody,
      status: 201,
      auditsItself: true,
      async handle({ body, token }) {
        const created = await tokens.create(body, token.id);
        return { ...tokenJson(created), token: created.token };
      },
    }),
    defineOperation({
      id: 'listTokens',
      method: 'GET',
      path: '/v1/tokens',
      summary: 'Live tokens (never their values)',
      access: { scope: 'everywhere', capability: 'admin' },
      async handle() {
        return (await tokens.list()).map(tokenJson);
      },
    }),
    defineOperation({
      id: 'revokeToken',
      method: 'DELETE',
      path: '/v1/tokens/{id}',
      summary:
        'Revoke a token: this server refuses it from the next request on, other servers on the store within 1 s',
      access: { scope: 'everywhere', capability: 'admin' },
      status: 204,
      auditsItself: true,
      async handle({ request, token }) {
        const { id } = request.params as { id: string };
        await tokens.revoke(id, token.id);
        return undefined;
      },
    }),
  ];
}
