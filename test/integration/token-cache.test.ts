import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN_CACHE_MS, TokenService } from '../../src/access/token-service.js';
import type { Store } from '../../src/store/store.js';
import { createStoreLocation, STORE_DIALECTS, type StoreLocation } from '../support/test-stores.js';

/**
 * TokenService trusts a token it looked up for up to TOKEN_CACHE_MS: a
 * revocation through the same service is immediate, one made elsewhere on the
 * same store is seen within that time, and expiry is never cached.
 */

const POLICY = [{ path: 'cache/**', capabilities: ['read'] }];

describe.each(STORE_DIALECTS)('token cache on %s', (dialect) => {
  let location: StoreLocation;
  let store: Store;
  let elsewhere: Store;

  beforeAll(async () => {
    location = await createStoreLocation(dialect, 'token-cache');
    store = await location.open();
    // A second store on the same database: what another Rotor process or the CLI sees.
    elsewhere = await location.open();
  });

  afterAll(async () => {
    await elsewhere?.close();
    await store?.close();
    await location?.destroy();
  });

  it('refuses a token revoked through the same service at once', async () => {
    const tokens = new TokenService(store);
    const { token, id } = await tokens.create({ policy: POLICY }, 'test');
    await expect(tokens.authenticate(token)).resolves.toMatchObject({ id });
    expect(tokens.cachedAuthentication(token)).toMatchObject({ id });
    await tokens.revoke(id, 'test');
    expect(tokens.cachedAuthentication(token)).toBeUndefined();
    await expect(tokens.authenticate(token)).rejects.toMatchObject({
      code: 'ERR_UNAUTHENTICATED',
    });
  });

  it('refuses a token revoked by another process within TOKEN_CACHE_MS', async () => {
    const tokens = new TokenService(store);
    const { token, id } = await tokens.create({ policy: POLICY }, 'test');
    await expect(tokens.authenticate(token)).resolves.toMatchObject({ id });
    expect(tokens.cachedAuthentication(token)).toMatchObject({ id });
    await new TokenService(elsewhere).revoke(id, 'test');
    const revokedAt = performance.now();
    // Without waiting, the cached lookup vouches for the token only while it is fresh.
    await expect
      .poll(() => tokens.cachedAuthentication(token), {
        timeout: TOKEN_CACHE_MS * 3,
        interval: 20,
      })
      .toBeUndefined();
    expect(performance.now() - revokedAt).toBeLessThan(TOKEN_CACHE_MS + 250);
    await expect
      .poll(
        () =>
          tokens.authenticate(token).then(
            () => 'accepted',
            (e) => e.code,
          ),
        {
          timeout: TOKEN_CACHE_MS * 3,
          interval: 20,
        },
      )
      .toBe('ERR_UNAUTHENTICATED');
    expect(performance.now() - revokedAt).toBeLessThan(TOKEN_CACHE_MS + 250);
  });

  it('checks expiry on every request, whatever it cached', async () => {
    let clock = Date.now();
    const tokens = new TokenService(store, () => new Date(clock));
    const { token, id } = await tokens.create({ policy: POLICY, ttl: '1h' }, 'test');
    await expect(tokens.authenticate(token)).resolves.toMatchObject({ id });
    expect(tokens.cachedAuthentication(token)).toMatchObject({ id });
    clock += 3_600_001;
    expect(tokens.cachedAuthentication(token)).toBeUndefined();
    await expect(tokens.authenticate(token)).rejects.toMatchObject({
      code: 'ERR_UNAUTHENTICATED',
    });
  });

  it('checks the presented secret on every request, whatever it cached', async () => {
    const tokens = new TokenService(store);
    const { token, id } = await tokens.create({ policy: POLICY }, 'test');
    await expect(tokens.authenticate(token)).resolves.toMatchObject({ id });
    const forged = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    expect(tokens.cachedAuthentication(token)).toMatchObject({ id });
    expect(tokens.cachedAuthentication(forged)).toBeUndefined();
    await expect(tokens.authenticate(forged)).rejects.toMatchObject({
      code: 'ERR_UNAUTHENTICATED',
    });
  });
});
