import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HookCall {
  readonly step: string;
  readonly secret: string;
  readonly version: number;
  readonly value: string;
}

/**
 * A real HTTP service that accepts API keys the way a third-party API would:
 * apply adds a key, retire and rollback remove one, verify succeeds only for
 * an accepted key. Tests can make a step fail, and ask whether a key works.
 */
export class WebhookTarget {
  readonly accepted = new Set<string>();
  readonly calls: HookCall[] = [];
  readonly alerts: Array<Record<string, unknown>> = [];
  /** Steps that answer 500 until cleared. */
  readonly failing = new Set<string>();
  #server: Server | undefined;
  #url = '';

  get url(): string {
    return this.#url;
  }

  /** Where Rotor posts alerts (ROTOR_ALERT_WEBHOOK). */
  get alertUrl(): string {
    return `${this.#url}/alerts`;
  }

  accepts(value: string): boolean {
    return this.accepted.has(value);
  }

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      void readJson(req).then((body) => {
        if (req.url === '/alerts') {
          this.alerts.push(body);
          res.writeHead(204).end();
          return;
        }
        const call = body as unknown as HookCall;
        this.calls.push(call);
        if (this.failing.has(call.step)) {
          res.writeHead(500).end('refused by test');
          return;
        }
        let ok = true;
        if (call.step === 'apply') this.accepted.add(call.value);
        else if (call.step === 'verify' || call.step === 'check')
          ok = this.accepted.has(call.value);
        else this.accepted.delete(call.value);
        res.writeHead(ok ? 204 : 401).end();
      });
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    this.#url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) =>
      this.#server ? this.#server.close(() => resolve()) : resolve(),
    );
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
}
