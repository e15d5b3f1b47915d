/** The part of autocannon 8's programmatic API the API benchmark uses (the package ships no types). */
declare module 'autocannon' {
  interface Options {
    url: string;
    connections?: number;
    duration?: number;
    amount?: number;
    headers?: Record<string, string>;
  }
  interface Histogram {
    p50: number;
    p90: number;
    p99: number;
    max: number;
  }
  interface Result {
    latency: Histogram;
    errors: number;
    timeouts: number;
    non2xx: number;
    '2xx': number;
  }
  interface Instance extends NodeJS.EventEmitter {
    on(event: 'response', listener: () => void): this;
    on(event: 'done', listener: (result: Result) => void): this;
  }
  function autocannon(
    options: Options,
    callback?: (error: Error | null, result: Result) => void,
  ): Instance;
  export default autocannon;
}
