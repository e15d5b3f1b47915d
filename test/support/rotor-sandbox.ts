import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoreDialect } from '../../src/store/store.js';
import { type CliResult, type RunOptions, runCli } from './run-cli.js';
import { createStoreLocation, type StoreLocation } from './test-stores.js';

/** One version as `rotor secret history --json` prints it. */
export interface HistoryEntry {
  readonly version: number;
  readonly stages: string[];
  readonly state: 'active' | 'destroyed' | 'discarded';
  readonly createdAt: string;
}

/** One rotation as `rotor rotate --json` (and each `run --once --json` outcome) prints it. */
export interface OutcomeJson {
  readonly name: string;
  readonly rotation: number;
  readonly kind: string;
  readonly state: string;
  readonly result: string;
  readonly fromVersion: number;
  readonly toVersion: number | null;
  readonly error: string | null;
}

export interface RunOnceJson {
  readonly outcomes: OutcomeJson[];
  readonly deferred: Array<{ secret: string; reason: string }>;
  readonly failed: number;
}

/** One event as `rotor audit tail --json` prints it. */
export interface AuditTailEntry {
  readonly seq: number;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly secret: string | null;
  readonly version: number | null;
  readonly outcome: string;
  readonly details: Record<string, unknown>;
}

/**
 * An initialised Rotor for one test: a temp ROTOR_HOME (holding the master
 * key file), a store of the given dialect named by ROTOR_STORE, and the CLI
 * bound to both. `location.query` reaches the store's rows directly.
 */
/** A CLI result with its wall-clock duration. */
export interface TimedResult extends CliResult {
  readonly ms: number;
}

/**
 * How long one CLI call may take before runCli kills it. Far above the usual
 * second: on a loaded machine a call can take tens of seconds, and a timeout
 * kill must never be mistaken for a failpoint's SIGKILL.
 */
export const CLI_TIMEOUT_MS = 170_000;

export interface RotorSandbox {
  readonly dialect: StoreDialect;
  readonly home: string;
  readonly location: StoreLocation;
  /** The ROTOR_* variables every CLI call gets. */
  readonly env: Record<string, string>;
  rotor(args: readonly string[], options?: RunOptions): Promise<TimedResult>;
  /** Runs a command that must succeed (exit 0) and parses its JSON stdout. */
  json<T>(args: readonly string[], options?: RunOptions): Promise<T>;
  /** `secret get NAME [--stage S]`: the value, which must exist. */
  value(name: string, stage?: 'current' | 'previous' | 'pending'): Promise<string>;
  history(name: string): Promise<HistoryEntry[]>;
  destroy(): Promise<void>;
}

export function describeResult(result: CliResult & { ms?: number }): string {
  return `code=${result.code} signal=${result.signal} after ${result.ms ?? '?'} ms\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
}

/** Creates the store and home, and runs `rotor init` in them. */
export async function createSandbox(
  dialect: StoreDialect,
  label: string,
  extraEnv: Record<string, string> = {},
): Promise<RotorSandbox> {
  const home = mkdtempSync(join(tmpdir(), `rotor-${label}-home-`));
  const location = await createStoreLocation(dialect, label);
  const env = { ROTOR_HOME: home, ROTOR_STORE: location.url, ...extraEnv };
  const rotor = async (args: readonly string[], options: RunOptions = {}) => {
    const started = performance.now();
    const result = await runCli(args, {
      timeoutMs: CLI_TIMEOUT_MS,
      ...options,
      env: { ...env, ...options.env },
    });
    return { ...result, ms: Math.round(performance.now() - started) };
  };
  const json = async <T>(args: readonly string[], options: RunOptions = {}): Promise<T> => {
    const result = await rotor(args, options);
    if (result.code !== 0) {
      throw new Error(`rotor ${args.join(' ')} failed: ${describeResult(result)}`);
    }
    return JSON.parse(result.stdout) as T;
  };
  const sandbox: RotorSandbox = {
    dialect,
    home,
    location,
    env,
    rotor,
    json,
    async value(name, stage = 'current') {
      return (await json<{ value: string }>(['secret', 'get', name, '--stage', stage, '--json']))
        .value;
    },
    history: (name) => json<HistoryEntry[]>(['secret', 'history', name, '--json']),
    async destroy() {
      await location.destroy();
      rmSync(home, { recursive: true, force: true });
    },
  };
  try {
    await json(['init', '--json']);
  } catch (error) {
    await sandbox.destroy();
    throw error;
  }
  return sandbox;
}

/** The versions that carry `stage`, by number. */
export function withStage(history: readonly HistoryEntry[], stage: string): number[] {
  return history.filter((v) => v.stages.includes(stage)).map((v) => v.version);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
