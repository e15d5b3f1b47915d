/**
 * `rotor/client`: the SDK for Node applications. It needs nothing beyond
 * Node's own fetch; the driver helpers live in their own entry points
 * (`rotor/client/pg`, `rotor/client/mysql`, `rotor/client/redis`) so that only
 * an application using a driver loads it.
 */
export { RotorApiError } from './api-error.js';
export type { RefusedLogin } from './credential-source.js';
export type { DatabaseCredential } from './database-credential.js';
export {
  createClient,
  RotorClient,
  type RotorClientOptions,
  type RotorEvent,
  type SecretEntry,
  type VerifyResult,
} from './rotor-client.js';
