import type { ApiClient } from '../../src/sdk/api-client.js';
import type { Target } from '../zero-downtime/targets.js';

/**
 * Creates, through the API, the secret `name` holding the target's
 * credential (manual rotation, the given grace) and, when the strategy needs
 * one, `<name>-admin` holding the admin credential it names. `config`
 * overrides the target's (another strategy, say).
 */
export async function createTargetSecrets(
  api: ApiClient,
  target: Target,
  name: string,
  grace: string,
  config: Readonly<Record<string, unknown>> = {},
): Promise<void> {
  const adminSecret = `${name}-admin`;
  if (target.admin) {
    await api.request('POST', '/v1/secrets', {
      body: {
        name: adminSecret,
        type: 'password',
        value: JSON.stringify(target.admin),
        policy: { manual: true },
      },
    });
  }
  await api.request('POST', '/v1/secrets', {
    body: {
      name,
      type: target.type,
      config: { ...target.config, ...(target.admin ? { adminSecret } : {}), ...config },
      value: JSON.stringify(target.initial),
      policy: { manual: true, grace },
    },
  });
}
