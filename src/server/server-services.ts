import type { TokenService } from '../access/token-service.js';
import type { Logger } from '../engine/logger.js';
import type { RotationEngine } from '../engine/rotation-engine.js';
import type { SecretService } from '../service/secret-service.js';
import type { Store } from '../store/store.js';
import type { EventFeed } from './event-feed.js';
import type { FailureLimiter } from './failure-limiter.js';
import type { ServerMetrics } from './server-metrics.js';

/** What the API's operations work with. */
export interface ServerServices {
  readonly store: Store;
  readonly secrets: SecretService;
  readonly tokens: TokenService;
  readonly engine: RotationEngine;
  readonly events: EventFeed;
  readonly metrics: ServerMetrics;
  readonly limiter: FailureLimiter;
  readonly logger: Logger;
  /** Closers of open event streams and long polls, called when the server shuts down. */
  readonly streams: Set<() => void>;
}
