import type { ApiClient } from './api-client.js';
import { RotorApiError } from './api-error.js';
import { SseParser } from './sse-parser.js';

/** A change announced by the server: names and versions, never values. */
export interface RotorEvent {
  /** The audit sequence number the stream resumes from. */
  readonly seq: number;
  /** `rotation.promoted`, `rollback.promoted`, `secret.updated`, `rotation.retired`, ... */
  readonly event: string;
  readonly name: string;
  readonly version: number | null;
  readonly at: string;
}

export interface EventStreamHandlers {
  readonly onEvent: (event: RotorEvent) => void;
  /** The stream is open; `resumed` is false when events may have been missed before it. */
  readonly onOpen: (resumed: boolean) => void;
  readonly onError: (error: RotorApiError) => void;
}

const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 10_000;
/** The server writes a heartbeat every 15 s: three missed ones mean a dead connection. */
const IDLE_MS = 45_000;

/**
 * `GET /v1/events` followed for as long as it runs: the stream is parsed as
 * it arrives over fetch (Node 20 has no EventSource), and reconnected with
 * exponential backoff and jitter, resuming after the last event seen through
 * `Last-Event-ID` so nothing in between is lost.
 */
export class EventStream {
  readonly #api: ApiClient;
  readonly #handlers: EventStreamHandlers;
  readonly #stopped = new AbortController();
  #lastEventId: string | undefined;
  #running: Promise<void> | undefined;

  constructor(api: ApiClient, handlers: EventStreamHandlers) {
    this.#api = api;
    this.#handlers = handlers;
  }

  start(): void {
    this.#running ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped.abort();
    await this.#running;
  }

  async #run(): Promise<void> {
    let backoff = FIRST_BACKOFF_MS;
    while (!this.#stopped.signal.aborted) {
      const opened = await this.#follow().then(
        (wasOpen) => wasOpen,
        (error: unknown) => {
          if (!this.#stopped.signal.aborted) this.#handlers.onError(asApiError(error));
          return false;
        },
      );
      if (opened) backoff = FIRST_BACKOFF_MS;
      await pause(backoff / 2 + Math.random() * (backoff / 2), this.#stopped.signal);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }

  /** One connection, until it ends; true if it was open at some point. */
  async #follow(): Promise<boolean> {
    const connection = new AbortController();
    const abort = () => connection.abort();
    this.#stopped.signal.addEventListener('abort', abort, { once: true });
    let idle: NodeJS.Timeout | undefined;
    let opened = false;
    const watchIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(abort, IDLE_MS);
    };
    try {
      watchIdle();
      const headers: Record<string, string> = {
        authorization: this.#api.authorization,
        accept: 'text/event-stream',
      };
      const resumeFrom = this.#lastEventId;
      if (resumeFrom !== undefined) headers['last-event-id'] = resumeFrom;
      const response = await fetch(this.#api.url('/v1/events'), {
        headers,
        signal: connection.signal,
      });
      if (!response.ok || response.body === null) throw await refusal(response);
      opened = true;
      this.#handlers.onOpen(resumeFrom !== undefined);
      const parser = new SseParser();
      const text = response.body.pipeThrough(new TextDecoderStream());
      for await (const chunk of text) {
        watchIdle();
        for (const message of parser.push(chunk)) {
          if (message.id !== undefined) this.#lastEventId = message.id;
          const event = parseEvent(message.data);
          if (event) this.#handlers.onEvent(event);
        }
      }
      return true;
    } catch (error) {
      if (opened || connection.signal.aborted) return opened;
      throw error;
    } finally {
      clearTimeout(idle);
      this.#stopped.signal.removeEventListener('abort', abort);
      connection.abort();
    }
  }
}

function parseEvent(data: string): RotorEvent | undefined {
  try {
    const event = JSON.parse(data) as Partial<RotorEvent>;
    if (typeof event.name !== 'string' || typeof event.event !== 'string') return undefined;
    return event as RotorEvent;
  } catch {
    return undefined;
  }
}

async function refusal(response: Response): Promise<RotorApiError> {
  const text = await response.text().catch(() => '');
  let error: { code?: string; message?: string } | undefined;
  try {
    error = (JSON.parse(text) as { error?: typeof error }).error;
  } catch {
    error = undefined;
  }
  return new RotorApiError(
    error?.code ?? 'ERR_REMOTE',
    response.status,
    `event stream: ${error?.message ?? `Rotor answered ${response.status}`}`,
  );
}

function asApiError(error: unknown): RotorApiError {
  if (error instanceof RotorApiError) return error;
  return new RotorApiError('ERR_REMOTE', 0, `event stream: ${(error as Error).message}`, {
    cause: error,
  });
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
