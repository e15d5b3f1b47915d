/**
 * The load side of the API benchmark, run as a child process so that it gets
 * its own core and event loop instead of competing with the servers it loads.
 * It answers each `LoadRequest` message with one `LoadResult`.
 */
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';

export interface LoadRequest {
  readonly url: string;
  readonly connections: number;
  readonly headers: Record<string, string>;
  /**
   * A fixed number of requests, every one answered: a run cut at a deadline
   * would leave requests in flight, whose audit events would land in the next run.
   */
  readonly amount: number;
}

export interface LoadResult {
  readonly requests: number;
  readonly ok: number;
  readonly non2xx: number;
  readonly errors: number;
  /** From the first request sent to the last response received. */
  readonly seconds: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

function load(request: LoadRequest): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let lastResponse = started;
    let responses = 0;
    // autocannon ends a fixed-amount run only at its next one-second sample,
    // so the rate is timed here, up to the last response.
    const instance = autocannon(
      {
        url: request.url,
        connections: request.connections,
        headers: request.headers,
        amount: request.amount,
      },
      (error, result) => {
        if (error) return reject(error);
        const seconds = (lastResponse - started) / 1000;
        resolve({
          requests: responses,
          ok: result['2xx'],
          non2xx: result.non2xx,
          errors: result.errors,
          seconds,
          rps: result['2xx'] / seconds,
          p50Ms: result.latency.p50,
          p99Ms: result.latency.p99,
          maxMs: result.latency.max,
        });
      },
    );
    instance.on('response', () => {
      responses++;
      lastResponse = performance.now();
    });
  });
}

process.on('message', (message: LoadRequest) => {
  load(message).then(
    (result) => process.send?.({ result }),
    (error: unknown) => process.send?.({ error: String(error) }),
  );
});
