import { isAbsolute } from 'node:path';
import { z } from 'zod';

/** A file rewritten atomically with the current value on every promotion. */
export interface FileSink {
  readonly type: 'file';
  /** Absolute path of the file; its directory must exist. */
  readonly path: string;
  /** `raw`: the value's bytes; `env`: dotenv lines; `json`: `{name, version, value}`. */
  readonly format: 'raw' | 'env' | 'json';
  /** Permission bits: an octal string such as `"0640"`, or the number; default 0600. */
  readonly mode?: string | number | undefined;
}

/** A command run (without a shell) with the event in its environment and the value on its stdin. */
export interface ExecSink {
  readonly type: 'exec';
  /** argv: the program, then its arguments. */
  readonly command: readonly string[];
}

/** A URL that receives `{event, secret, version, at}` as a JSON POST, never the value. */
export interface WebhookSink {
  readonly type: 'webhook';
  readonly url: string;
}

/** Where a secret's current value is published for consumers that cannot call Rotor. */
export type Sink = FileSink | ExecSink | WebhookSink;
export type SinkType = Sink['type'];

export const MAX_SINKS = 10;
export const DEFAULT_FILE_MODE = 0o600;
const MAX_MODE = 0o777;

/** The permission bits of a file sink, or undefined when `mode` is not a valid one. */
export function fileModeOf(mode: FileSink['mode']): number | undefined {
  if (mode === undefined) return DEFAULT_FILE_MODE;
  const bits =
    typeof mode === 'number' ? mode : /^0?[0-7]{3}$/.test(mode) ? Number.parseInt(mode, 8) : NaN;
  return Number.isInteger(bits) && bits >= 0 && bits <= MAX_MODE ? bits : undefined;
}

const PATH_ERROR = 'expected an absolute file path such as /etc/app/api-key';
const MODE_ERROR =
  'expected permission bits as an octal string such as "0640", or an integer up to 511 (0o777)';
const COMMAND_ERROR =
  'expected the command as a non-empty list of strings, program first (run without a shell)';
const URL_ERROR = 'expected an http:// or https:// URL';

const fileSinkSchema = z.strictObject({
  type: z.literal('file'),
  path: z
    .string({ error: PATH_ERROR })
    .max(4096, { error: PATH_ERROR })
    .refine((p) => isAbsolute(p) && !p.endsWith('/') && !p.includes('\0'), { error: PATH_ERROR }),
  format: z.enum(['raw', 'env', 'json'], { error: 'expected raw, env or json' }),
  mode: z
    .union([z.string(), z.number()], { error: MODE_ERROR })
    .refine((m) => fileModeOf(m) !== undefined, { error: MODE_ERROR })
    .optional(),
});

const execSinkSchema = z.strictObject({
  type: z.literal('exec'),
  command: z
    .array(
      z
        .string({ error: COMMAND_ERROR })
        .max(4096, { error: COMMAND_ERROR })
        .refine((arg) => !arg.includes('\0'), { error: COMMAND_ERROR }),
      { error: COMMAND_ERROR },
    )
    .min(1, { error: COMMAND_ERROR })
    .max(256, { error: COMMAND_ERROR })
    .refine((argv) => argv[0] !== '', { error: COMMAND_ERROR }),
});

const webhookSinkSchema = z.strictObject({
  type: z.literal('webhook'),
  url: z.url({ protocol: /^https?$/, error: URL_ERROR }).max(2048, { error: URL_ERROR }),
});

/** Accepted fields per sink type, for error messages. */
export const SINK_FIELDS: Readonly<Record<SinkType, readonly string[]>> = {
  file: Object.keys(fileSinkSchema.shape),
  exec: Object.keys(execSinkSchema.shape),
  webhook: Object.keys(webhookSinkSchema.shape),
};

export const sinksSchema = z
  .array(
    z.discriminatedUnion('type', [fileSinkSchema, execSinkSchema, webhookSinkSchema], {
      error: 'expected a sink {type: file | exec | webhook, ...}',
    }),
    { error: 'expected a list of sinks such as [{type: file, path, format}]' },
  )
  .max(MAX_SINKS, { error: `expected at most ${MAX_SINKS} sinks` })
  .optional();
