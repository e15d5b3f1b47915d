import { z } from 'zod';
import { allows, allowsEverywhere } from '../../access/token-policy.js';
import { RotorError } from '../../core/errors.js';
import { assertSecretName } from '../../core/secret-name.js';
import { verifyAudit } from '../../service/audit-service.js';
import { auditEventJson } from '../../service/representations.js';
import { defineOperation } from '../operation.js';
import type { ServerServices } from '../server-services.js';
import { limitField, secretFilter, sinceField } from './query-fields.js';

const auditQuery = z.strictObject({
  secret: secretFilter.optional(),
  since: sinceField.optional(),
  limit: limitField,
});

export function auditOperations({ store }: ServerServices) {
  return [
    defineOperation<z.infer<typeof auditQuery>>({
      id: 'listAuditEvents',
      method: 'GET',
      path: '/v1/audit',
      summary:
        'Audit events oldest first after `since` (or the newest `limit`); needs admin on the secret, or on ** without one',
      access: { scope: 'filtered', capability: 'admin' },
      query: auditQuery,
      async handle({ query, token }) {
        if (
          query.secret === undefined
            ? !allowsEverywhere(token.policy, 'admin')
            : !allows(token.policy, 'admin', query.secret)
        ) {
          throw new RotorError(
            'ERR_FORBIDDEN',
            'this token may not read the audit trail asked for',
          );
        }
        if (query.secret !== undefined) assertSecretName(query.secret);
        const events = await store.auditEvents(
          query.since === undefined
            ? { secret: query.secret, last: query.limit }
            : { secret: query.secret, afterSeq: query.since, limit: query.limit },
        );
        return events.map(auditEventJson);
      },
    }),
    defineOperation({
      id: 'verifyAudit',
      method: 'GET',
      path: '/v1/audit/verify',
      summary:
        'Walk the whole hash chain up to the recorded head, as `rotor audit verify` does: {intact, events, headHash} or {intact: false, brokenAt, reason}',
      access: { scope: 'everywhere', capability: 'admin' },
      async handle() {
        return verifyAudit(store);
      },
    }),
  ];
}
