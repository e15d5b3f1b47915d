/** Where a command writes; injected so the CLI can run in-process in tests and as a child process alike. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

export function printJson(io: CliIo, value: unknown): void {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}

/** A plain aligned table; empty cells show as `-`. */
export function printTable(
  io: CliIo,
  headers: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string | null>>,
): void {
  const cells = rows.map((row) => row.map((cell) => (cell === null || cell === '' ? '-' : cell)));
  const widths = headers.map((h, i) =>
    Math.max(h.length, ...cells.map((row) => row[i]?.length ?? 0)),
  );
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  io.stdout(`${[line(headers), ...cells.map(line)].join('\n')}\n`);
}
