import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { verifyAudit } from '../../src/service/audit-service.js';
import { openRotor } from '../../src/service/open-rotor.js';
import { resolveEnvironment } from '../../src/service/rotor-environment.js';
import { SecretService } from '../../src/service/secret-service.js';
import { AUDIT_EVENT_COLUMNS } from '../../src/store/schema.js';
import type { AuditQuery, StoreDialect } from '../../src/store/store.js';
import {
  type AuditTailEntry,
  createSandbox,
  describeResult,
  type RotorSandbox,
} from '../support/rotor-sandbox.js';
import type { CliResult } from '../support/run-cli.js';
import { STORE_DIALECTS } from '../support/test-stores.js';

/**
 * The audit trail is a hash chain: `rotor audit verify` must notice any edit,
 * deletion or reordering done behind Rotor's back with plain SQL, and name the
 * first broken event. Each tamper starts from the intact trail and is undone
 * afterwards, so the cases are independent.
 */

const TEST_TIMEOUT = 120_000;
const HOOK_TIMEOUT = 240_000;

interface EventRow {
  seq: number | string;
  at: number | string;
  actor: string;
  action: string;
  secret: string | null;
  version: number | null;
  outcome: string;
  details: string;
  prev_hash: string;
  hash: string;
}

interface HeadRow {
  seq: number | string;
  hash: string;
}

/** The single stderr line of a broken chain, which must name `seq` as the first broken event. */
function expectBrokenAt(result: CliResult, seq: number): void {
  expect(result.code, describeResult(result)).toBe(1);
  expect(result.signal).toBeNull();
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(/^rotor: [^\n]+\n$/);
  expect(result.stderr).toMatch(new RegExp(`\\bevent ${seq}\\b`));
}

describe.concurrent.each<StoreDialect>(STORE_DIALECTS)('audit trail (%s store)', (dialect) => {
  let sandbox: RotorSandbox;
  /** Every value any version of any secret ever had. */
  const values: string[] = [];
  /** The intact trail, taken before each test and put back after it. */
  let intact: { events: EventRow[]; head: HeadRow };

  const query = <T>(sql: string, params?: unknown[]) => sandbox.location.query<T>(sql, params);
  const seqOf = (action: string, nth = 0): number => {
    const found = intact.events.filter((e) => e.action === action)[nth];
    if (!found) throw new Error(`no ${action} event #${nth} in the trail`);
    return Number(found.seq);
  };
  const lastSeq = () => Number(intact.events.at(-1)?.seq);

  async function snapshot(): Promise<{ events: EventRow[]; head: HeadRow }> {
    const [events, [head]] = await Promise.all([
      query<EventRow>('select * from audit_events order by seq'),
      query<HeadRow>('select seq, hash from audit_head where id = 1'),
    ]);
    if (!head) throw new Error('audit_head has no row');
    return { events, head };
  }

  async function restore(): Promise<void> {
    await query('delete from audit_events');
    for (const event of intact.events) {
      await query(
        `insert into audit_events (${AUDIT_EVENT_COLUMNS.join(', ')}) values (${AUDIT_EVENT_COLUMNS.map(() => '?').join(', ')})`,
        AUDIT_EVENT_COLUMNS.map((c) => event[c]),
      );
    }
    await query('update audit_head set seq = ?, hash = ? where id = 1', [
      intact.head.seq,
      intact.head.hash,
    ]);
  }

  beforeAll(async () => {
    sandbox = await createSandbox(dialect, 'audit_tamper');
    const known = `known-${randomBytes(12).toString('hex')}`;
    await Promise.all([
      sandbox.json(
        ['secret', 'create', 'audit/known', '--type', 'api-key', '--value-stdin', '--json'],
        {
          stdin: known,
        },
      ),
      sandbox.json(['secret', 'create', 'audit/generated', '--type', 'password', '--json']),
    ]);
    await sandbox.json(['rotate', 'audit/known', '--json']);
    // Reads are audited: the trail ends with three of them.
    values.push(await sandbox.value('audit/known'));
    values.push(await sandbox.value('audit/known', 'previous'));
    values.push(await sandbox.value('audit/generated'));
    expect(values[1]).toBe(known);
  }, HOOK_TIMEOUT);

  afterAll(async () => {
    await sandbox?.destroy();
  });

  describe.sequential('verify and tail', () => {
    beforeEach(async () => {
      intact = await snapshot();
    });

    afterEach(async () => {
      await restore();
    });

    it(
      'verifies the untouched trail: exit 0, every event counted, head matching',
      async () => {
        const [plain, json] = await Promise.all([
          sandbox.rotor(['audit', 'verify']),
          sandbox.rotor(['audit', 'verify', '--json']),
        ]);
        expect(plain.code, describeResult(plain)).toBe(0);
        expect(plain.stdout).toMatch(new RegExp(`intact: ${intact.events.length} events`));
        expect(json.code, describeResult(json)).toBe(0);
        expect(JSON.parse(json.stdout)).toEqual({
          intact: true,
          events: intact.events.length,
          headHash: intact.head.hash,
        });
        expect(Number(intact.head.seq)).toBe(lastSeq());
        // init, 2 creates, 5 rotation steps, 3 reads at least.
        expect(intact.events.length).toBeGreaterThanOrEqual(11);
      },
      TEST_TIMEOUT,
    );

    it(
      'audit tail -n 3 --json gives the 3 newest events oldest first, and no value anywhere',
      async () => {
        const result = await sandbox.rotor(['audit', 'tail', '-n', '3', '--json']);
        expect(result.code, describeResult(result)).toBe(0);
        const tail = JSON.parse(result.stdout) as AuditTailEntry[];
        const last = lastSeq();
        expect(tail.map((e) => e.seq)).toEqual([last - 2, last - 1, last]);
        expect(tail.map((e) => [e.action, e.secret, e.version])).toEqual([
          ['secret.read', 'audit/known', 2],
          ['secret.read', 'audit/known', 1],
          ['secret.read', 'audit/generated', 1],
        ]);
        for (const [i, event] of tail.entries()) {
          const row = intact.events[intact.events.length - 3 + i];
          expect(event).toEqual({
            seq: Number(row?.seq),
            at: new Date(Number(row?.at)).toISOString(),
            actor: row?.actor,
            action: row?.action,
            secret: row?.secret,
            version: row?.version === null ? null : Number(row?.version),
            outcome: row?.outcome,
            details: JSON.parse(row?.details ?? ''),
            hash: row?.hash,
          });
        }
        // Neither the tail nor any stored event carries a value.
        const everything = JSON.stringify(intact.events);
        for (const value of values) {
          expect(result.stdout).not.toContain(value);
          expect(everything).not.toContain(value);
        }
      },
      TEST_TIMEOUT,
    );

    it.each([
      { column: 'actor', action: 'secret.read', to: 'someone-else' },
      { column: 'details', action: 'rotation.promoted', to: '{"from":0,"rotation":1}' },
      { column: 'outcome', action: 'rotation.verified', to: 'failure' },
      { column: 'at', action: 'secret.create', to: 1_000 },
    ])(
      'an edited $column (on the $action event) breaks the chain at that event',
      async ({ column, action, to }) => {
        const seq = seqOf(action);
        await query(`update audit_events set ${column} = ? where seq = ?`, [to, seq]);
        const [plain, json] = await Promise.all([
          sandbox.rotor(['audit', 'verify']),
          sandbox.rotor(['audit', 'verify', '--json']),
        ]);
        expectBrokenAt(plain, seq);
        expect(json.code).toBe(1);
        expect(JSON.parse(json.stdout)).toMatchObject({ intact: false, brokenAt: seq });
      },
      TEST_TIMEOUT,
    );

    it.each([
      { which: 'a middle event', pick: () => seqOf('rotation.applied') },
      { which: 'the first event', pick: () => 1 },
    ])(
      'deleting $which is reported as that event missing',
      async ({ pick }) => {
        const seq = pick();
        await query('delete from audit_events where seq = ?', [seq]);
        const result = await sandbox.rotor(['audit', 'verify']);
        expectBrokenAt(result, seq);
        expect(result.stderr).toMatch(/missing/);
      },
      TEST_TIMEOUT,
    );

    it(
      'swapping the actions of two consecutive events breaks the chain at the first',
      async () => {
        const a = seqOf('rotation.started');
        const b = a + 1;
        const [first, second] = intact.events.filter((e) => [a, b].includes(Number(e.seq)));
        expect(first?.action).not.toBe(second?.action);
        await query('update audit_events set action = ? where seq = ?', [second?.action, a]);
        await query('update audit_events set action = ? where seq = ?', [first?.action, b]);
        expectBrokenAt(await sandbox.rotor(['audit', 'verify']), a);
      },
      TEST_TIMEOUT,
    );

    it(
      'swapping the sequence numbers of two events (reordering them) breaks the chain',
      async () => {
        const a = seqOf('rotation.pending_stored');
        const b = a + 1;
        await query('update audit_events set seq = ? where seq = ?', [-1, a]);
        await query('update audit_events set seq = ? where seq = ?', [a, b]);
        await query('update audit_events set seq = ? where seq = ?', [b, -1]);
        expectBrokenAt(await sandbox.rotor(['audit', 'verify']), a);
      },
      TEST_TIMEOUT,
    );

    it(
      'deleting the last event is caught through the recorded head',
      async () => {
        const last = lastSeq();
        await query('delete from audit_events where seq = ?', [last]);
        expectBrokenAt(await sandbox.rotor(['audit', 'verify']), last);
      },
      TEST_TIMEOUT,
    );

    // Fails while src has the bug reported with this test: verifyAudit reads the head, then the
    // events, outside one snapshot; an event appended in between (any audited read or rotation by
    // another process) makes it report "tail deleted" on an untouched trail. Seen for real when
    // `rotor audit verify` ran beside `rotor secret get`. The interleaving is forced here: another
    // store (as another process would) appends exactly between the two reads.
    it(
      'a verify that overlaps an append by another process does not report tampering',
      async () => {
        const verifier = await openRotor(resolveEnvironment(sandbox.env));
        const other = await openRotor(resolveEnvironment(sandbox.env));
        try {
          const otherProcess = new SecretService(other.store, other.keyring);
          let appended = false;
          const racing = new Proxy(verifier.store, {
            get(target, property) {
              if (property === 'auditEvents') {
                return async (query: AuditQuery) => {
                  if (!appended) {
                    appended = true;
                    await otherProcess.reveal('audit/known', { stage: 'current' }, 'other');
                  }
                  return target.auditEvents(query);
                };
              }
              const member = Reflect.get(target, property, target);
              return typeof member === 'function' ? member.bind(target) : member;
            },
          });
          const overlapping = await verifyAudit(racing);
          const after = await verifyAudit(verifier.store);
          expect(appended).toBe(true);
          // The trail itself is intact, as a verify after the append shows.
          expect(after).toMatchObject({ intact: true, events: intact.events.length + 1 });
          expect(overlapping.intact, JSON.stringify(overlapping)).toBe(true);
        } finally {
          await verifier.store.close();
          await other.store.close();
        }
      },
      TEST_TIMEOUT,
    );

    it(
      'the restored trail verifies again',
      async () => {
        const result = await sandbox.rotor(['audit', 'verify']);
        expect(result.code, describeResult(result)).toBe(0);
        expect(result.stdout).toMatch(new RegExp(`intact: ${intact.events.length} events`));
      },
      TEST_TIMEOUT,
    );
  });
});
