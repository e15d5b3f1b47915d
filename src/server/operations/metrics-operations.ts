import { allows } from '../../access/token-policy.js';
import { defineOperation } from '../operation.js';
import type { ServerServices } from '../server-services.js';

export function metricsOperations({ metrics }: ServerServices) {
  return [
    defineOperation({
      id: 'metrics',
      method: 'GET',
      path: '/metrics',
      summary: 'Prometheus metrics; series naming a secret only for the secrets the token may list',
      // A token like any other request's: series are labelled with secret names.
      access: { scope: 'filtered', capability: 'list' },
      async handle({ token, reply }) {
        reply.header('content-type', metrics.contentType);
        return metrics.exposition((name) => allows(token.policy, 'list', name));
      },
    }),
  ];
}
