import type { Selectable } from 'kysely';
import type { AuditInput } from '../audit/audit-event.js';
import { appendAuditEvent } from './audit-append.js';
import type { StoreContext } from './kysely-db.js';
import { toDate } from './row-mappers.js';
import type { TokensTable } from './schema.js';
import type { NewToken } from './store.js';
import type { TokenRecord, TokenStore } from './token-store.js';

export class KyselyTokenStore implements TokenStore {
  readonly #context: StoreContext;

  constructor(context: StoreContext) {
    this.#context = context;
  }

  async create(token: NewToken, audit: AuditInput): Promise<TokenRecord> {
    const { write, now } = this.#context;
    return write(async (tx) => {
      const row = await tx
        .insertInto('tokens')
        .values({
          id: token.id,
          hash: token.hash,
          name: token.name,
          policy: JSON.stringify(token.policy),
          created_at: now().getTime(),
          expires_at: token.expiresAt?.getTime() ?? null,
          revoked_at: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await appendAuditEvent(tx, audit, null, null, now());
      return toToken(row);
    });
  }

  async find(id: string): Promise<TokenRecord | undefined> {
    const row = await this.#context.db
      .selectFrom('tokens')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toToken(row) : undefined;
  }

  async list(): Promise<TokenRecord[]> {
    const rows = await this.#context.db
      .selectFrom('tokens')
      .selectAll()
      .where('revoked_at', 'is', null)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toToken);
  }

  async revoke(id: string, audit: AuditInput): Promise<boolean> {
    const { write, now } = this.#context;
    return write(async (tx) => {
      const revoked = await tx
        .updateTable('tokens')
        .set({ revoked_at: now().getTime() })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .returning('id')
        .executeTakeFirst();
      if (!revoked) return false;
      await appendAuditEvent(tx, audit, null, null, now());
      return true;
    });
  }
}

function toToken(row: Selectable<TokensTable>): TokenRecord {
  return {
    id: row.id,
    hash: row.hash,
    name: row.name,
    policy: JSON.parse(row.policy) as unknown,
    createdAt: new Date(Number(row.created_at)),
    expiresAt: toDate(row.expires_at),
    revokedAt: toDate(row.revoked_at),
  };
}
