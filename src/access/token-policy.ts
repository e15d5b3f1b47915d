import { z } from 'zod';
import { RotorError } from '../core/errors.js';
import { MAX_SECRET_NAME_LENGTH } from '../core/secret-name.js';
import { describeZodError } from '../core/zod-issues.js';

export const CAPABILITIES = ['read', 'list', 'write', 'rotate', 'admin'] as const;

/** One capability a token policy grants on a path glob. */
export type Capability = (typeof CAPABILITIES)[number];

export interface TokenPolicyRule {
  readonly path: string;
  readonly capabilities: readonly Capability[];
}

export type TokenPolicy = readonly TokenPolicyRule[];

export const ADMIN_POLICY: TokenPolicy = [{ path: '**', capabilities: [...CAPABILITIES] }];

const GLOB_ERROR =
  'expected a path glob of segments separated by "/", where * matches within a segment and ** across segments';
const CAPABILITY_ERROR = `expected one of ${CAPABILITIES.map((c) => `"${c}"`).join(', ')}`;

export const tokenPolicyRuleSchema = z.strictObject({
  path: z
    .string({ error: GLOB_ERROR })
    .min(1, { error: GLOB_ERROR })
    .max(256, { error: GLOB_ERROR })
    .regex(/^[A-Za-z0-9._*-]+(\/[A-Za-z0-9._*-]+)*$/, { error: GLOB_ERROR }),
  capabilities: z
    .array(z.enum(CAPABILITIES, { error: CAPABILITY_ERROR }), {
      error: 'expected a list of capabilities',
    })
    .min(1, { error: 'expected at least one capability' })
    .max(CAPABILITIES.length),
});

export const tokenPolicySchema = z
  .array(tokenPolicyRuleSchema, { error: 'expected a list of {path, capabilities} rules' })
  .min(1, { error: 'expected at least one rule' })
  .max(100, { error: 'expected at most 100 rules' });

export function parseTokenPolicy(input: unknown): TokenPolicy {
  const result = tokenPolicySchema.safeParse(input);
  if (!result.success) {
    throw new RotorError(
      'ERR_INVALID_INPUT',
      `policy: ${describeZodError(result.error, input, ['path', 'capabilities'])}`,
    );
  }
  return result.data;
}

/**
 * Matches a secret name against a glob segment by segment: `*` stands for any
 * part of one segment, a `**` segment for any number of segments (none included).
 * Remembering each (glob, name) position keeps a glob full of `**` linear.
 */
export function pathMatches(glob: string, name: string): boolean {
  const globs = glob.split('/');
  const names = name.split('/');
  const known = new Map<number, boolean>();
  const match = (g: number, n: number): boolean => {
    const key = g * (names.length + 1) + n;
    let result = known.get(key);
    if (result !== undefined) return result;
    const head = globs[g];
    if (head === undefined) result = n === names.length;
    else if (head === '**') result = match(g + 1, n) || (n < names.length && match(g, n + 1));
    else {
      const segment = names[n];
      result = segment !== undefined && segmentMatches(head, segment) && match(g + 1, n + 1);
    }
    known.set(key, result);
    return result;
  };
  return match(0, 0);
}

function segmentMatches(glob: string, segment: string): boolean {
  const parts = glob.split('*');
  if (parts.length === 1) return glob === segment;
  const first = parts[0] as string;
  const last = parts[parts.length - 1] as string;
  if (!segment.startsWith(first) || segment.length < first.length + last.length) return false;
  if (!segment.endsWith(last)) return false;
  let at = first.length;
  for (const middle of parts.slice(1, -1)) {
    const found = segment.indexOf(middle, at);
    if (found === -1 || found + middle.length > segment.length - last.length) return false;
    at = found + middle.length;
  }
  return true;
}

// Every API request asks this of its token, mostly the same questions again.
const decisions = new WeakMap<TokenPolicy, Map<Capability, Map<string, boolean>>>();
const DECISIONS_PER_CAPABILITY = 1_024;

/** Whether any rule grants `capability` on the secret `name`. */
export function allows(policy: TokenPolicy, capability: Capability, name: string): boolean {
  let byCapability = decisions.get(policy);
  if (!byCapability) {
    byCapability = new Map();
    decisions.set(policy, byCapability);
  }
  let known = byCapability.get(capability);
  if (!known) {
    known = new Map();
    byCapability.set(capability, known);
  }
  let allowed = known.get(name);
  if (allowed === undefined) {
    allowed = policy.some(
      (rule) => rule.capabilities.includes(capability) && pathMatches(rule.path, name),
    );
    // Only names that can exist are remembered: a huge one would only take memory.
    if (name.length <= MAX_SECRET_NAME_LENGTH) {
      if (known.size >= DECISIONS_PER_CAPABILITY) known.clear();
      known.set(name, allowed);
    }
  }
  return allowed;
}

/** Whether a rule grants `capability` over every secret (a `**` rule): needed for Rotor-wide actions. */
export function allowsEverywhere(policy: TokenPolicy, capability: Capability): boolean {
  return policy.some((rule) => rule.capabilities.includes(capability) && rule.path === '**');
}
