import { describe, expect, it } from 'vitest';
import { hashToken, issueToken, tokenId, tokenMatches } from '../../src/access/api-token.js';

describe('API tokens', () => {
  it('matches a token against its own stored hash only', () => {
    const issued = issueToken();
    expect(tokenId(issued.token)).toBe(issued.id);
    expect(tokenMatches(issued.token, issued.hash)).toBe(true);
    expect(tokenMatches(issueToken().token, issued.hash)).toBe(false);
  });

  it('refuses a token one character off, and a stored hash of another length', () => {
    const { token, hash } = issueToken();
    const last = token.at(-1) === 'a' ? 'b' : 'a';
    expect(tokenMatches(`${token.slice(0, -1)}${last}`, hash)).toBe(false);
    expect(tokenMatches(token, hash.slice(0, -1))).toBe(false);
    expect(tokenMatches(token, `${hash}0`)).toBe(false);
    expect(tokenMatches(token, '')).toBe(false);
    expect(hashToken(token)).toBe(hash);
  });
});
