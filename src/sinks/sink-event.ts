/** What a sink is told about a publication; never the value, which travels separately. */
export interface SinkEvent {
  /** The audit action that made the version current: `rotation.promoted`, `rollback.promoted`, `secret.put`, `secret.create`. */
  readonly event: string;
  readonly secret: string;
  readonly version: number;
  /** When the version became current. */
  readonly at: Date;
}
