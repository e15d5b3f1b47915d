import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SecretValue } from '../../src/core/secret-value.js';
import { fileContents } from '../../src/sinks/file-contents.js';

const event = { event: 'rotation.promoted', secret: 'prod/db/app', version: 7, at: new Date(0) };
const credential = {
  engine: 'postgres',
  host: 'db.internal',
  port: 5432,
  username: 'app',
  password: 'it\'s $HOME `x` \\ "q"',
  'ssl-mode': 'require',
};
const contents = (format: 'raw' | 'env' | 'json', value: string) =>
  fileContents(format, event, SecretValue.fromString(value)).toString('utf8');

/** What `sh` sees after sourcing an env file: the shell, not our reading of it, is the judge. */
function sourced(text: string, variable: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-env-'));
  try {
    writeFileSync(join(dir, 'file.env'), text);
    return execFileSync(
      '/bin/sh',
      ['-c', `. "$1"; printf '%s' "$${variable}"`, 'sh', join(dir, 'file.env')],
      {
        encoding: 'utf8',
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('file sink contents', () => {
  it('writes raw values byte for byte', () => {
    expect(contents('raw', 'sk_live_abc\n')).toBe('sk_live_abc\n');
  });

  it('embeds a JSON-object value as an object, any other value as a string', () => {
    expect(JSON.parse(contents('json', JSON.stringify(credential)))).toEqual({
      name: 'prod/db/app',
      version: 7,
      value: credential,
    });
    expect(JSON.parse(contents('json', '12345'))).toEqual({
      name: 'prod/db/app',
      version: 7,
      value: '12345',
    });
  });

  it('writes one ROTOR_<FIELD> line per field of a JSON-object value', () => {
    const text = contents('env', JSON.stringify(credential));
    expect(text.split('\n').map((line) => line.split('=')[0])).toEqual([
      'ROTOR_ENGINE',
      'ROTOR_HOST',
      'ROTOR_PORT',
      'ROTOR_USERNAME',
      'ROTOR_PASSWORD',
      'ROTOR_SSL_MODE',
      '',
    ]);
    expect(text).toContain("ROTOR_HOST='db.internal'\n");
    expect(text).toContain("ROTOR_PORT='5432'\n");
    expect(sourced(text, 'ROTOR_PASSWORD')).toBe(credential.password);
    expect(sourced(text, 'ROTOR_USERNAME')).toBe('app');
  });

  it('writes ROTOR_SECRET_VALUE for any other value, literal under sh', () => {
    for (const value of ['p@ss$word`!#', 'two\nlines', "a'b", '[1,2]']) {
      const text = contents('env', value);
      expect(text.startsWith('ROTOR_SECRET_VALUE=')).toBe(true);
      expect(sourced(text, 'ROTOR_SECRET_VALUE')).toBe(value);
    }
    expect(contents('env', 'p@ss$word')).toBe("ROTOR_SECRET_VALUE='p@ss$word'\n");
  });
});
