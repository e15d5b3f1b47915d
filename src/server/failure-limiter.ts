/**
 * Counts refused authentications per client address in a sliding window;
 * an address over the limit is refused outright until old failures age out.
 */
const SWEEP_ABOVE = 10_000;

export class FailureLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #failures = new Map<string, number[]>();

  constructor(options: { max: number; windowMs: number; now?: () => number }) {
    this.#max = options.max;
    this.#windowMs = options.windowMs;
    this.#now = options.now ?? Date.now;
  }

  /** Seconds until `address` may try again, or 0 when it may now. */
  retryAfter(address: string): number {
    if (!this.#failures.has(address)) return 0;
    const recent = this.#recent(address);
    if (recent.length < this.#max) return 0;
    const oldest = recent[recent.length - this.#max] as number;
    return Math.max(1, Math.ceil((oldest + this.#windowMs - this.#now()) / 1000));
  }

  recordFailure(address: string): void {
    // Addresses that failed once and never came back would otherwise stay forever.
    if (this.#failures.size >= SWEEP_ABOVE)
      for (const known of [...this.#failures.keys()]) this.#recent(known);
    const recent = this.#recent(address);
    recent.push(this.#now());
    this.#failures.set(address, recent);
  }

  #recent(address: string): number[] {
    const since = this.#now() - this.#windowMs;
    const recent = (this.#failures.get(address) ?? []).filter((at) => at > since);
    if (recent.length === 0) this.#failures.delete(address);
    else this.#failures.set(address, recent);
    return recent;
  }
}
