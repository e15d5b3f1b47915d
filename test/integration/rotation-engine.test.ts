import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SecretValue } from '../../src/core/secret-value.js';
import { sealValue } from '../../src/crypto/envelope.js';
import type { Alert } from '../../src/engine/alerter.js';
import { RotationEngine } from '../../src/engine/rotation-engine.js';
import { SecretService } from '../../src/service/secret-service.js';
import type { Store } from '../../src/store/store.js';
import {
  createStoreLocation,
  STORE_DIALECTS,
  type StoreLocation,
  testKeyring,
} from '../support/test-stores.js';
import { WebhookTarget } from '../support/webhook-target.js';

const keyring = testKeyring();
const HOUR = 3_600_000;

/** A clock the test moves by hand, shared by the store and the engine. */
class TestClock {
  #ms = Date.parse('2026-06-01T00:00:00Z');
  readonly now = () => new Date(this.#ms);
  advance(ms: number): void {
    this.#ms += ms;
  }
}

describe.each(STORE_DIALECTS)('rotation engine on %s', (dialect) => {
  let location: StoreLocation;
  let store: Store;
  let clock: TestClock;
  let secrets: SecretService;
  let target: WebhookTarget;
  let alerts: Alert[];
  let counter = 0;

  const engine = (owner = 'test-engine', isOwnerDead: (owner: string) => boolean = () => false) =>
    new RotationEngine({
      store,
      keyring,
      owner,
      now: clock.now,
      random: () => 0.5,
      isOwnerDead,
      alerter: { alert: async (a) => void alerts.push(a) },
    });

  const value = async (name: string, stage: 'current' | 'previous' | 'pending' = 'current') =>
    (await secrets.reveal(name, { stage }, 'test')).value.reveal();

  /** A fresh api-key secret whose target already accepts its first value. */
  const newSecret = async (policy: Record<string, unknown> = {}) => {
    const name = `eng/s${++counter}`;
    await secrets.create(
      { name, type: 'api-key', config: { webhook: { url: target.url } }, policy },
      'test',
    );
    target.accepted.add(await value(name));
    return name;
  };

  const stages = async (name: string) =>
    (await store.listVersions(name)).map((v) => `${v.number}:${v.stage ?? '-'}:${v.state}`);

  /** A rotation another process began and left with its value stored as pending. */
  const pendingElsewhere = async (name: string) => {
    const lease = { owner: 'elsewhere:1:bb', ttlMs: 60_000 };
    const begun = await store.rotations.begin(
      { secret: name, kind: 'rotate', dryRun: false, onlyIfDue: false, lease },
      { actor: 'test', action: 'rotation.started' },
    );
    return store.rotations.storePending(
      begun?.id as number,
      lease,
      (version) =>
        sealValue(SecretValue.fromString('never-used'), { secret: name, version }, keyring.current),
      { actor: 'test', action: 'rotation.pending_stored' },
    );
  };

  beforeAll(async () => {
    location = await createStoreLocation(dialect, 'engine');
    clock = new TestClock();
    store = await location.open(clock.now);
    secrets = new SecretService(store, keyring, clock.now);
    target = new WebhookTarget();
    await target.start();
  });

  afterAll(async () => {
    await target?.stop();
    await store?.close();
    await location?.destroy();
  });

  beforeEach(() => {
    alerts = [];
    target.failing.clear();
  });

  it('rotates: new value stored, applied, verified, promoted; old one valid through grace', async () => {
    const name = await newSecret();
    const v1 = await value(name);
    const outcome = await engine().rotate(name, 'test');
    expect(outcome).toMatchObject({
      result: 'promoted',
      rotation: { state: 'done', fromVersion: 1, toVersion: 2 },
    });
    const v2 = await value(name);
    expect(v2).not.toBe(v1);
    expect(await value(name, 'previous')).toBe(v1);
    expect(target.accepts(v2) && target.accepts(v1)).toBe(true);
    expect(await stages(name)).toEqual(['2:current:active', '1:previous:active']);
    expect(
      target.calls.filter((c) => c.secret === name).map((c) => `${c.step}:${c.version}`),
    ).toEqual(['apply:2', 'verify:2']);
    const actions = (await store.auditEvents({ secret: name })).map((e) => e.action);
    expect(actions).toEqual([
      'secret.create',
      'secret.read',
      'secret.read',
      'rotation.started',
      'rotation.pending_stored',
      'rotation.applied',
      'rotation.verified',
      'rotation.promoted',
      'secret.read',
      'secret.read',
    ]);
  });

  it('retires the previous version on the target when grace ends, and only then', async () => {
    const name = await newSecret({ grace: '2h' });
    const v1 = await value(name);
    await engine().rotate(name, 'test');
    clock.advance(HOUR);
    expect(
      (await engine().runOnce()).outcomes.filter((o) => o.rotation.secretName === name),
    ).toEqual([]);
    expect(target.accepts(v1)).toBe(true);
    clock.advance(HOUR + 1);
    const summary = await engine().runOnce();
    expect(
      summary.outcomes.filter((o) => o.rotation.secretName === name).map((o) => o.result),
    ).toEqual(['retired']);
    expect(target.accepts(v1)).toBe(false);
    expect(target.accepts(await value(name))).toBe(true);
    expect(await stages(name)).toEqual(['2:current:active', '1:-:active']);
  });

  it('ends the grace of previous at once when an operator rotates during it, even if that rotation fails', async () => {
    const name = await newSecret({ grace: '2h' });
    const v1 = await value(name);
    await engine().rotate(name, 'test');
    const v2 = await value(name);
    target.failing.add('verify');
    const failed = await engine().rotate(name, 'test');
    expect(failed.result).toBe('rolled_back');
    // Revoked on the target, so no longer staged: verify and reads agree with what the target accepts.
    expect(target.accepts(v1)).toBe(false);
    expect(target.accepts(v2)).toBe(true);
    expect(await stages(name)).toEqual(['3:-:discarded', '2:current:active', '1:-:active']);
    expect(await secrets.verifyPresented(name, SecretValue.fromString(v1), 'test')).toEqual({
      valid: false,
      stage: null,
      version: null,
    });
    await expect(secrets.reveal(name, { stage: 'previous' }, 'test')).rejects.toMatchObject({
      code: 'ERR_VERSION_NOT_FOUND',
    });
    await expect(engine().rollback(name, 'test')).rejects.toMatchObject({
      code: 'ERR_NO_PREVIOUS',
    });
    const pendingStored = (await store.auditEvents({ secret: name })).filter(
      (e) => e.action === 'rotation.pending_stored',
    );
    expect(JSON.parse(pendingStored.at(-1)?.details ?? '{}')).toMatchObject({ retiredEarly: 1 });
  });

  it('rolls back a value that fails verification, alerts, backs off, and never retries that value', async () => {
    const name = await newSecret();
    const v1 = await value(name);
    target.failing.add('verify');
    const outcome = await engine().rotate(name, 'test');
    expect(outcome.result).toBe('rolled_back');
    expect(outcome.error).toMatch(/answered HTTP 500/);
    expect(await stages(name)).toEqual(['2:-:discarded', '1:current:active']);
    const failed = target.calls.find((c) => c.secret === name && c.step === 'apply')
      ?.value as string;
    expect(target.accepts(failed)).toBe(false);
    expect(target.accepts(v1)).toBe(true);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ secret: name, needsAttention: false });
    expect(JSON.stringify(alerts)).not.toContain(failed);
    const secret = await store.getSecret(name);
    expect(secret?.failureCount).toBe(1);
    // One minute times the 0.5..1 jitter, with random fixed at 0.5.
    expect(secret?.nextRotationAt?.getTime()).toBe(clock.now().getTime() + 45_000);

    target.failing.clear();
    const retry = await engine().rotate(name, 'test');
    expect(retry).toMatchObject({ result: 'promoted', rotation: { toVersion: 3 } });
    expect(await value(name)).not.toBe(failed);
    expect((await store.getSecret(name))?.failureCount).toBe(0);
  });

  it('parks a secret as needs-attention after maxFailures and leaves it alone until resumed', async () => {
    const name = await newSecret({ maxFailures: 2, schedule: '1h' });
    target.failing.add('apply');
    await engine().rotate(name, 'test');
    await engine().rotate(name, 'test');
    const parked = await store.getSecret(name);
    expect(parked).toMatchObject({
      state: 'needs-attention',
      failureCount: 2,
      nextRotationAt: null,
    });
    expect(alerts.at(-1)).toMatchObject({ needsAttention: true });
    clock.advance(10 * HOUR);
    const summary = await engine().runOnce();
    expect(summary.outcomes.some((o) => o.rotation.secretName === name)).toBe(false);

    target.failing.clear();
    await secrets.resume(name, 'test');
    const resumed = await engine().runOnce();
    expect(
      resumed.outcomes.filter((o) => o.rotation.secretName === name).map((o) => o.result),
    ).toEqual(['promoted']);
    expect(await store.getSecret(name)).toMatchObject({ state: 'active', failureCount: 0 });
  });

  it('counts a rollback that keeps failing, parks the secret, and waits for resume before retrying', async () => {
    const name = await newSecret({ maxFailures: 2 });
    target.failing.add('apply');
    target.failing.add('rollback');
    const first = await engine().rotate(name, 'test');
    expect(first.result).toBe('stalled');
    expect(await store.getSecret(name)).toMatchObject({ state: 'active', failureCount: 1 });
    clock.advance(HOUR);
    const second = await engine().runOnce();
    expect(
      second.outcomes.filter((o) => o.rotation.secretName === name).map((o) => o.result),
    ).toEqual(['stalled']);
    expect(await store.getSecret(name)).toMatchObject({
      state: 'needs-attention',
      failureCount: 2,
      nextRotationAt: null,
    });
    expect(alerts.filter((a) => a.secret === name).at(-1)).toMatchObject({ needsAttention: true });
    clock.advance(10 * HOUR);
    expect((await engine().runOnce()).outcomes.some((o) => o.rotation.secretName === name)).toBe(
      false,
    );

    target.failing.clear();
    await secrets.resume(name, 'test');
    const resumed = await engine().runOnce();
    // The stalled rotation finishes its rollback at once; the failure it records backs the next try off.
    expect(
      resumed.outcomes.filter((o) => o.rotation.secretName === name).map((o) => o.result),
    ).toEqual(['rolled_back']);
    clock.advance(HOUR);
    const retried = await engine().runOnce();
    expect(
      retried.outcomes.filter((o) => o.rotation.secretName === name).map((o) => o.result),
    ).toEqual(['promoted']);
    expect(await stages(name)).toEqual(['3:current:active', '2:-:discarded', '1:previous:active']);
  });

  it('dry-runs: verifies a new value on the target, then discards it without counting a failure', async () => {
    const name = await newSecret();
    const v1 = await value(name);
    const outcome = await engine().rotate(name, 'test', { dryRun: true });
    expect(outcome.result).toBe('dry_run');
    expect(await value(name)).toBe(v1);
    expect(await stages(name)).toEqual(['2:-:discarded', '1:current:active']);
    const tried = target.calls.find((c) => c.secret === name && c.step === 'verify')
      ?.value as string;
    expect(target.accepts(tried)).toBe(false);
    expect((await store.getSecret(name))?.failureCount).toBe(0);
    expect(alerts).toEqual([]);
  });

  it('rolls back to the previous version through the rotator, as a rotation of its own', async () => {
    const name = await newSecret();
    const v1 = await value(name);
    await engine().rotate(name, 'test');
    const v2 = await value(name);
    const outcome = await engine().rollback(name, 'test');
    expect(outcome).toMatchObject({
      result: 'promoted',
      rotation: { kind: 'rollback', toVersion: 1 },
    });
    expect(await value(name)).toBe(v1);
    expect(await value(name, 'previous')).toBe(v2);
    expect(target.accepts(v1)).toBe(true);
    await expect(engine().rollback(`${name}-missing`, 'test')).rejects.toMatchObject({
      code: 'ERR_SECRET_NOT_FOUND',
    });
  });

  it('refuses a second rotation in flight, and lets another process take over only once the lease is free', async () => {
    const name = await newSecret();
    const rotation = await store.rotations.begin(
      {
        secret: name,
        kind: 'rotate',
        dryRun: false,
        onlyIfDue: false,
        lease: { owner: 'crashed-host:1:aa', ttlMs: 60_000 },
      },
      { actor: 'test', action: 'rotation.started' },
    );
    await expect(engine().rotate(name, 'test')).rejects.toMatchObject({
      code: 'ERR_ROTATION_IN_PROGRESS',
    });
    expect(
      (await engine('other').runOnce()).outcomes.some((o) => o.rotation.id === rotation?.id),
    ).toBe(false);
    clock.advance(61_000);
    const resumed = await engine('other').runOnce();
    expect(
      resumed.outcomes.filter((o) => o.rotation.id === rotation?.id).map((o) => o.result),
    ).toEqual(['promoted']);
    expect(await stages(name)).toEqual(['2:current:active', '1:previous:active']);
  });

  it('takes over a rotation whose owner process is dead without waiting for the lease', async () => {
    const name = await newSecret();
    const rotation = await store.rotations.begin(
      {
        secret: name,
        kind: 'rotate',
        dryRun: false,
        onlyIfDue: false,
        lease: { owner: 'dead-owner', ttlMs: 60_000 },
      },
      { actor: 'test', action: 'rotation.started' },
    );
    const resumed = await engine('other', (owner) => owner === 'dead-owner').runOnce();
    expect(
      resumed.outcomes.filter((o) => o.rotation.id === rotation?.id).map((o) => o.result),
    ).toEqual(['promoted']);
  });

  it('cancels a rotation in flight: rolled back, nothing pending, not a failure', async () => {
    const name = await newSecret();
    await pendingElsewhere(name);
    const outcome = await engine().cancel(name, 'test');
    expect(outcome.result).toBe('cancelled');
    expect(await stages(name)).toEqual(['2:-:discarded', '1:current:active']);
    expect((await store.getSecret(name))?.failureCount).toBe(0);
    await expect(engine().cancel(name, 'test')).rejects.toMatchObject({
      code: 'ERR_NOT_IN_FLIGHT',
    });
  });

  it('refuses to delete a secret while a rotation is in flight, and deletes it once cancelled', async () => {
    const name = await newSecret();
    const begun = await pendingElsewhere(name);
    const headBefore = await store.auditHead();
    await expect(
      store.deleteSecret(name, { actor: 'test', action: 'secret.delete' }),
    ).rejects.toMatchObject({
      code: 'ERR_ROTATION_IN_PROGRESS',
      message: `secret ${name} has rotate ${begun.id} in flight (state pending_stored); wait for it or cancel it with \`rotor rotate ${name} --cancel\``,
    });
    expect(await stages(name)).toEqual(['2:pending:active', '1:current:active']);
    expect((await store.rotations.inFlight(name))?.id).toBe(begun.id);
    expect((await store.auditHead()).seq).toBe(headBefore.seq);

    expect((await engine().cancel(name, 'test')).result).toBe('cancelled');
    await store.deleteSecret(name, { actor: 'test', action: 'secret.delete' });
    expect(await store.getSecret(name)).toBeUndefined();
  });

  it('defers a rotation that missed its window', async () => {
    const name = await newSecret({ schedule: '1h', window: '5m' });
    clock.advance(HOUR + 10 * 60_000);
    const summary = await engine().runOnce();
    expect(summary.deferred).toContainEqual({ secret: name, reason: 'missed its 5m window' });
    expect((await store.listVersions(name)).length).toBe(1);
    expect((await store.getSecret(name))?.nextRotationAt?.getTime()).toBeGreaterThan(
      clock.now().getTime(),
    );
  });

  it('takes a secret whose stored policy is invalid off the schedule with an alert, and rotates the others', async () => {
    const broken = await newSecret({ schedule: '1h' });
    const sound = await newSecret({ schedule: '1h' });
    const stored = (await store.getSecret(broken))?.policy;
    // As a newer Rotor, or a hand edit, could have left it: the schedule cannot read `window`.
    await location.query('update secrets set policy = ? where name = ?', [
      JSON.stringify({ ...stored, window: 'soon' }),
      broken,
    ]);
    clock.advance(HOUR + 1);
    const summary = await engine().runOnce();
    const ours = (name: string) =>
      summary.outcomes.filter((o) => o.rotation.secretName === name).map((o) => o.result);
    expect(ours(sound)).toEqual(['promoted']);
    expect(ours(broken)).toEqual([]);
    expect(summary.deferred).toContainEqual({
      secret: broken,
      reason: expect.stringMatching(/^its stored policy is invalid: window: expected a duration/),
    });
    expect(alerts.filter((a) => a.secret === broken)).toEqual([
      expect.objectContaining({ step: 'schedule', needsAttention: true }),
    ]);
    expect((await store.getSecret(broken))?.nextRotationAt).toBeNull();
    expect(await stages(broken)).toEqual(['1:current:active']);

    await engine().runOnce();
    expect(alerts.filter((a) => a.secret === broken)).toHaveLength(1);
    const repaired = await secrets.update(broken, { policy: { window: '10m' } }, 'test');
    expect(repaired.nextRotationAt).not.toBeNull();
  });

  it('defers a due rotation that falls inside a blackout until the blackout ends', async () => {
    const name = await newSecret({ schedule: '1h' });
    // A daily 30-minute blackout starting on the hour two hours from now, in UTC.
    const blackoutStart = Math.floor(clock.now().getTime() / HOUR) * HOUR + 2 * HOUR;
    const hour = new Date(blackoutStart).getUTCHours();
    await secrets.update(
      name,
      { policy: { timezone: 'UTC', blackout: [{ start: `0 ${hour} * * *`, duration: '30m' }] } },
      'test',
    );
    clock.advance(blackoutStart + 10 * 60_000 - clock.now().getTime());
    const summary = await engine().runOnce();
    expect(summary.deferred).toContainEqual({ secret: name, reason: 'inside a blackout period' });
    expect((await store.getSecret(name))?.nextRotationAt?.getTime()).toBe(
      blackoutStart + 30 * 60_000,
    );
    clock.advance(20 * 60_000);
    const after = await engine().runOnce();
    expect(
      after.outcomes.filter((o) => o.rotation.secretName === name).map((o) => o.result),
    ).toEqual(['promoted']);
  });

  it('checks drift on schedule: a value changed behind its back alerts; secrets without a target are left alone', async () => {
    const name = await newSecret({ checkEvery: '2h' });
    const plain = `eng/plain${++counter}`;
    await secrets.create({ name: plain, type: 'api-key' }, 'test');
    const first = await engine().runOnce();
    expect(first.checks.find((c) => c.name === name)).toMatchObject({
      status: 'accepted',
      version: 1,
    });
    expect(first.checks.some((c) => c.name === plain)).toBe(false);
    const [unchecked] = await location.query<{ next_check_at: number | null }>(
      'select next_check_at from secrets where name = ?',
      [plain],
    );
    expect(unchecked?.next_check_at).toBeNull();

    target.accepted.delete(await value(name));
    expect((await engine().runOnce()).checks.some((c) => c.name === name)).toBe(false);
    clock.advance(2 * HOUR + 1);
    const later = await engine().runOnce();
    expect(later.checks.find((c) => c.name === name)).toMatchObject({ status: 'rejected' });
    expect(alerts.filter((a) => a.secret === name && a.step === 'check')).toHaveLength(1);
  });

  it('rotates every due secret exactly once with two engines running at the same time', async () => {
    const names = await Promise.all(
      Array.from({ length: 12 }, () => newSecret({ schedule: '1h' })),
    );
    clock.advance(2 * HOUR);
    const [a, b] = await Promise.all([engine('engine-a').runOnce(), engine('engine-b').runOnce()]);
    const promoted = [...a.outcomes, ...b.outcomes].filter(
      (o) => o.result === 'promoted' && names.includes(o.rotation.secretName),
    );
    expect(promoted.map((o) => o.rotation.secretName).sort()).toEqual([...names].sort());
    for (const name of names) expect((await store.listVersions(name)).length).toBe(2);
  });
});
