import { z } from 'zod';
import { randomString } from '../../crypto/random-string.js';
import { booleanField, defineGenerator, intField, stringField } from '../config-fields.js';

export const LOWERCASE = 'abcdefghijklmnopqrstuvwxyz';
export const UPPERCASE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
export const DIGITS = '0123456789';
export const DEFAULT_SYMBOL_SET = '!#$%&()*+,-.:;<=>?@[]^_{|}~';

// Printable ASCII that is neither alphanumeric (the other classes) nor whitespace, a quote
// or a backslash (which break shell, YAML and connection-string quoting).
const ALLOWED_SYMBOLS = new Set('!#$%&()*+,-./:;<=>?@[]^_{|}~');

function isSymbolSet(set: string): boolean {
  const chars = [...set];
  return (
    chars.length > 0 &&
    chars.every((c) => ALLOWED_SYMBOLS.has(c)) &&
    new Set(chars).size === chars.length
  );
}

export const passwordConfigSchema = z
  .strictObject({
    // The minimum of 8 also guarantees room for one character of each of the 4 classes.
    length: intField(8, 1024, 32),
    lowercase: booleanField(true),
    uppercase: booleanField(true),
    digits: booleanField(true),
    symbols: booleanField(true),
    symbolSet: stringField(
      isSymbolSet,
      'expected one or more distinct symbols from !#$%&()*+,-./:;<=>?@[]^_{|}~',
      DEFAULT_SYMBOL_SET,
    ),
  })
  .superRefine((config, ctx) => {
    const classes = enabledClasses(config);
    if (classes.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: 'expected at least one of lowercase, uppercase, digits, symbols to be true',
      });
    } else if (classes.join('').length < 2) {
      ctx.addIssue({
        code: 'custom',
        path: ['symbolSet'],
        message: 'expected at least 2 symbols when symbols is the only enabled class',
      });
    }
  });

export type PasswordConfig = z.output<typeof passwordConfigSchema>;

function enabledClasses(config: PasswordConfig): string[] {
  const classes: string[] = [];
  if (config.lowercase) classes.push(LOWERCASE);
  if (config.uppercase) classes.push(UPPERCASE);
  if (config.digits) classes.push(DIGITS);
  if (config.symbols) classes.push(config.symbolSet);
  return classes;
}

/** `length` characters with at least one from every enabled class. */
export const passwordGenerator = defineGenerator(passwordConfigSchema, (config) => {
  const classes = enabledClasses(config);
  const alphabet = classes.join('');
  let password: string;
  // Redraw a password that misses a class: stays uniform over valid ones (forcing one doesn't).
  do {
    password = randomString(alphabet, config.length);
  } while (!classes.every((chars) => [...chars].some((c) => password.includes(c))));
  return password;
});
