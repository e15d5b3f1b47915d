import { describe, expect, it } from 'vitest';
import { defaultPolicy } from '../../src/core/policy.js';
import type { SecretSummary } from '../../src/core/secret.js';
import { secretHealth } from '../../src/core/secret-health.js';

const now = new Date('2026-06-01T12:00:00Z');
const later = new Date('2026-06-01T13:00:00Z');
const earlier = new Date('2026-06-01T11:00:00Z');

function summary(overrides: Partial<SecretSummary> = {}): SecretSummary {
  return {
    name: 'a/b',
    type: 'api-key',
    config: {},
    policy: defaultPolicy('api-key'),
    state: 'active',
    lastVersion: 1,
    nextRotationAt: later,
    lastRotatedAt: null,
    failureCount: 0,
    createdAt: earlier,
    updatedAt: earlier,
    currentVersion: 1,
    graceUntil: null,
    ...overrides,
  };
}

describe('secretHealth', () => {
  it.each([
    ['ok', summary(), undefined],
    ['in-grace', summary({ graceUntil: later }), undefined],
    ['ok', summary({ graceUntil: earlier }), undefined],
    ['overdue', summary({ nextRotationAt: earlier }), undefined],
    ['ok', summary({ nextRotationAt: null }), undefined],
    ['failing', summary({ failureCount: 2 }), undefined],
    ['rotating', summary({ failureCount: 2, nextRotationAt: earlier }), { error: null }],
    ['failing', summary(), { error: 'rollback failed: target unreachable' }],
    ['needs-attention', summary({ state: 'needs-attention', failureCount: 5 }), { error: 'x' }],
  ] as const)('is %s', (expected, secret, inFlight) => {
    expect(secretHealth(secret, inFlight, now)).toBe(expected);
  });
});
