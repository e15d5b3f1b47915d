import { z } from 'zod';
import { allows } from '../../access/token-policy.js';
import { RotorError } from '../../core/errors.js';
import type { RotorEvent } from '../event-feed.js';
import { defineOperation } from '../operation.js';
import type { ServerServices } from '../server-services.js';
import { secretFilter, sinceField } from './query-fields.js';

const eventsQuery = z.strictObject({
  secret: secretFilter.optional(),
  since: sinceField.optional(),
});

const HEARTBEAT_MS = 15_000;

export function eventOperations({ events, streams }: ServerServices) {
  return [
    defineOperation<z.infer<typeof eventsQuery>>({
      id: 'streamEvents',
      method: 'GET',
      path: '/v1/events',
      summary:
        'Server-Sent Events (rotation.promoted, rotation.retired, ...): names and versions, never values, of the secrets the token may list or read. Resumes after Last-Event-ID or `since`',
      access: { scope: 'filtered', capability: 'list' },
      query: eventsQuery,
      async handle({ query, token, request, reply }) {
        const visible = (e: RotorEvent) =>
          (query.secret === undefined || e.name === query.secret) &&
          // A token that may read a value may learn that it changed.
          (allows(token.policy, 'list', e.name) || allows(token.policy, 'read', e.name));
        const lastSeen = lastEventId(request.headers['last-event-id']) ?? query.since;
        reply.hijack();
        const raw = reply.raw;
        raw.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
        });
        // A HEAD request gets the headers only: Node would hold them until a body that never comes.
        if (request.method === 'HEAD') {
          raw.end();
          return undefined;
        }
        raw.write(': rotor events\n\n');
        let sentUpTo = lastSeen ?? 0;
        const send = (e: RotorEvent) => {
          if (e.seq <= sentUpTo || !visible(e)) return;
          sentUpTo = e.seq;
          raw.write(`id: ${e.seq}\nevent: ${e.event}\ndata: ${JSON.stringify(e)}\n\n`);
        };
        // Live events are held until the replay of missed ones is written, keeping order.
        const held: RotorEvent[] = [];
        let replaying = lastSeen !== undefined;
        const unsubscribe = events.subscribe((e) => (replaying ? held.push(e) : send(e)));
        const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
        let closed = false;
        const close = () => {
          closed = true;
          clearInterval(heartbeat);
          unsubscribe();
          streams.delete(close);
          raw.end();
        };
        streams.add(close);
        request.raw.once('close', close);
        if (lastSeen !== undefined) {
          for await (const e of events.since(lastSeen, query.secret)) {
            if (closed) break;
            send(e);
          }
          replaying = false;
          for (const e of held.splice(0)) send(e);
        }
        return undefined;
      },
    }),
  ];
}

/** The sequence number a reconnecting client last saw, from the header EventSource sends. */
function lastEventId(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !/^\d{1,15}$/.test(header)) {
    throw new RotorError(
      'ERR_INVALID_INPUT',
      'Last-Event-ID: expected the id of the last event seen, a sequence number',
    );
  }
  return Number(header);
}
