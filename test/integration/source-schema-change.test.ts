import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicNames } from '../../schemas/topics.ts';
import type { RunningWorker } from '../../shared/runtime/run-worker.ts';
import { contentWorkerModule } from '../../workers/content/content-worker.ts';
import { lakeWorkerModule } from '../../workers/lake/lake-worker.ts';
import { contentReadPath, sql } from '../support/content.ts';
import { newId, runId } from '../support/ids.ts';
import { pinGroupAtEnd, testKafka } from '../support/kafka.ts';
import { lakeSnapshot, testLakeStore } from '../support/lake.ts';
import { sourceDb } from '../support/postgres.ts';
import { waitFor } from '../support/wait-for.ts';
import { startWorkerInProcess } from '../support/workers.ts';

const lakeGroup = `test-schema-lake-${runId}`;
const contentGroup = `test-schema-content-${runId}`;
const prefix = `test-schema-lake-${runId}/`;
// A column of this run only, dropped again after it: the source table is the stack's.
const column = `lake_probe_${runId}`;

describe('a source table changes its columns while the workers run (the real connector)', () => {
  let db: pg.Pool;
  const workers: RunningWorker[] = [];
  const store = testLakeStore();
  const read = contentReadPath();

  beforeAll(async () => {
    db = sourceDb();
    const admin = testKafka().admin();
    await admin.connect();
    try {
      await pinGroupAtEnd(admin, lakeGroup, [topicNames.koos]);
      await pinGroupAtEnd(admin, contentGroup, [topicNames.koos, topicNames.users]);
    } finally {
      await admin.disconnect();
    }
    workers.push(
      await startWorkerInProcess(lakeWorkerModule, {
        LAKE_GROUP_ID: lakeGroup,
        LAKE_PREFIX: prefix,
        LAKE_CATALOG_NAME: prefix, // the tables of this test's lake
        LAKE_TOPICS: topicNames.koos,
        LAKE_ROTATE_AGE_MS: '2000',
      }),
      await startWorkerInProcess(contentWorkerModule, { CONTENT_GROUP_ID: contentGroup }),
    );
  });

  afterAll(async () => {
    for (const w of workers) await w.close();
    await db?.query(`alter table koos drop column if exists ${column}`);
    // Back as schema.sql has it, should the second test have stopped between its two statements.
    await db?.query('alter table koos add column if not exists media_url text');
    await db?.end();
    store.destroy();
    read.dynamo.destroy();
  });

  it('writes it as a column of its own from the next change on, with no restart; older rows read null', async () => {
    const user = newId();
    const [before, after] = [newId(), newId()];
    const at = new Date();
    await db.query(sql.insertUser, [user, `h_${user}`, 'Lake Probe', false]);
    await db.query(sql.insertKoo, [before, user, null, 'hi', 'before the column', null, at]);
    await db.query(`alter table koos add column ${column} integer`);
    await db.query(
      `insert into koos (content_id, creator_id, lang, body, created_at, updated_at, ${column}) values ($1, $2, 'hi', 'after the column', $3, $3, 42)`,
      [after, user, at],
    );

    const rows = await waitFor(
      `both koos in the lake, the second with ${column}`,
      async () => {
        const lake = await lakeSnapshot(store, prefix);
        try {
          const found = await lake
            .rows(`select * from ${lake.topic(topicNames.koos)} where creator_id = '${user}'`)
            .catch(() => []);
          return found.length === 2 && found.some((r) => r[column] !== undefined && r[column] !== null)
            ? found
            : undefined;
        } finally {
          await lake.close();
        }
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    expect(Object.fromEntries(rows.map((r) => [r.content_id as string, r[column]]))).toEqual({
      [before]: null,
      [after]: '42', // an integer column: BIGINT in DuckDB, which JSON rows give as a string
    });
  });

  it('reads koos on after a column the view can do without is dropped (media_url: null), not into the DLQ', async () => {
    const user = newId();
    const kooId = newId();
    await db.query(sql.insertUser, [user, `h_${user}`, 'Drop Probe', false]);
    await db.query('alter table koos drop column media_url');
    try {
      await db.query(
        `insert into koos (content_id, creator_id, lang, body, created_at, updated_at) values ($1, $2, 'hi', 'no media column', now(), now())`,
        [kooId, user],
      );
      const koo = await waitFor(
        'the koo in the content view',
        async () => (await read.queries.getKoo(kooId)) ?? undefined,
        { timeoutMs: 60_000 },
      );
      expect(koo).toMatchObject({ contentId: kooId, body: 'no media column', mediaUri: null });
    } finally {
      await db.query('alter table koos add column if not exists media_url text');
    }
  });
});
