import { z } from 'zod';
import { allows } from '../../access/token-policy.js';
import { ROTATION_STATES } from '../../core/rotation-state.js';
import type { RotationOutcome } from '../../engine/rotation-engine.js';
import { outcomeJson, rotationJson } from '../../service/representations.js';
import { defineOperation } from '../operation.js';
import type { ServerServices } from '../server-services.js';
import { limitField, secretFilter } from './query-fields.js';

const rotateBody = z
  .strictObject({ dryRun: z.boolean({ error: 'expected true or false' }).optional() })
  .optional();

const rotationsQuery = z.strictObject({
  secret: secretFilter.optional(),
  state: z
    .enum(ROTATION_STATES, { error: `expected one of ${ROTATION_STATES.join(', ')}` })
    .optional(),
  before: z.coerce
    .number({ error: 'expected a rotation id' })
    .int({ error: 'expected a rotation id' })
    .min(1)
    .optional(),
  limit: limitField,
});

export function rotationOperations({ engine, store, metrics }: ServerServices) {
  const reported = async (outcome: RotationOutcome) => {
    await metrics.recordOutcome(outcome);
    return outcomeJson(outcome);
  };
  return [
    defineOperation<undefined, z.infer<typeof rotateBody>>({
      id: 'rotateSecret',
      method: 'POST',
      path: '/v1/secrets/{name}:rotate',
      summary: 'Rotate now: generate, store, apply, verify, promote (or only verify with dryRun)',
      access: { scope: 'secret', capability: 'rotate' },
      body: rotateBody,
      auditsItself: true,
      async handle({ name, body, token }) {
        return reported(await engine.rotate(name, token.id, { dryRun: body?.dryRun ?? false }));
      },
    }),
    defineOperation({
      id: 'rollbackSecret',
      method: 'POST',
      path: '/v1/secrets/{name}:rollback',
      summary: 'During grace, make the previous version current again (through the rotator)',
      access: { scope: 'secret', capability: 'rotate' },
      auditsItself: true,
      async handle({ name, token }) {
        return reported(await engine.rollback(name, token.id));
      },
    }),
    defineOperation({
      id: 'cancelRotation',
      method: 'POST',
      path: '/v1/secrets/{name}:cancel',
      summary: 'Stop the rotation in flight and roll it back',
      access: { scope: 'secret', capability: 'rotate' },
      auditsItself: true,
      async handle({ name, token }) {
        return reported(await engine.cancel(name, token.id));
      },
    }),
    defineOperation<z.infer<typeof rotationsQuery>>({
      id: 'listRotations',
      method: 'GET',
      path: '/v1/rotations',
      summary: 'Rotations, newest first, of the secrets the token may list',
      access: { scope: 'filtered', capability: 'list' },
      query: rotationsQuery,
      async handle({ query, token }) {
        const rotations = await store.listRotations({
          secret: query.secret,
          state: query.state,
          beforeId: query.before,
          limit: query.limit,
        });
        return rotations
          .filter((r) => allows(token.policy, 'list', r.secretName))
          .map(rotationJson);
      },
    }),
  ];
}
