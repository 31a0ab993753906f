import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { sourceDb } from '../support/postgres.ts';
import { waitFor } from '../support/wait-for.ts';

// A logical replication slot keeps every WAL segment after the position its consumer confirmed.
// When the captured tables are quiet but the database is not (other tables, vacuum), Debezium
// has nothing to confirm, and the primary's disk fills with WAL: the connector's heartbeat writes
// a captured row (public.debezium_heartbeat) so the position moves on.

describe('Debezium heartbeats against the stack', () => {
  const db: pg.Pool = sourceDb();
  afterAll(async () => {
    await db.query('drop table if exists wal_noise');
    await db.end();
  });

  it('moves the slot past WAL written only to tables it does not capture', async () => {
    await db.query('create table if not exists wal_noise (id serial primary key, pad text not null)');
    await db.query("insert into wal_noise (pad) select repeat('x', 200) from generate_series(1, 5000)");
    const lsn = (await db.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')).rows[0]!.lsn;
    const confirmedPast = async () =>
      (
        await db.query<{ past: boolean }>(
          "select confirmed_flush_lsn >= $1::pg_lsn as past from pg_replication_slots where slot_name = 'koo_debezium'",
          [lsn],
        )
      ).rows[0]?.past === true;
    // Heartbeats every 10 s, offsets flushed every 2 s: well within the deadline.
    expect(
      await waitFor('the slot to confirm past the WAL of other tables', confirmedPast, { timeoutMs: 60_000 }),
    ).toBe(true);
  });
});
