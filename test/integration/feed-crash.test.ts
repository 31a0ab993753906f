import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableName } from '../../schemas/tables.ts';
import { topicNames } from '../../schemas/topics.ts';
import { feedAttr as F } from '../../schemas/koo-feed.ts';
import { loadFollowers } from '../../apps/synthetic/follower-graph.ts';
import { sql } from '../support/content.ts';
import { feedReadPath } from '../support/feed.ts';
import { newId, runId } from '../support/ids.ts';
import { pinGroupAtEnd, testKafka } from '../support/kafka.ts';
import { sourceDb } from '../support/postgres.ts';
import { privateTables } from '../support/tables.ts';
import { waitFor } from '../support/wait-for.ts';
import { spawnWorker, type WorkerProcess, crashSessionTimeout } from '../support/workers.ts';

const FOLLOWERS = 20_000;
const groupId = `test-feed-crash-${runId}`;
// Its own tables: every feed worker of the files beside it reads the koo too, and one whose
// FEED_EMINENT_FOLLOWERS is below 20,000 records it as pulled in the shared fan-out record (and
// this worker would push that file's eminent koos); the 40,000 items go with the tables.
const tablePrefix = `test_feed_crash_${runId}_`;

describe('feed worker SIGKILLed in the middle of a fan-out to 20,000 followers', () => {
  let db: pg.Pool;
  let admin: Admin;
  privateTables(tablePrefix);
  const read = feedReadPath(500, tablePrefix);
  const processes: WorkerProcess[] = [];
  const start = () => {
    const w = spawnWorker('feed', {
      FEED_GROUP_ID: groupId,
      TABLE_PREFIX: tablePrefix,
      ...crashSessionTimeout,
      FEED_FANOUT_PAGE: '2000',
      // Sampled trims are a Query each, a few thousand of them beside the fan-out here; trimming is
      // covered in feed.test.ts.
      FEED_TRIM_EVERY: '0',
    });
    processes.push(w);
    return w;
  };

  beforeAll(async () => {
    db = sourceDb();
    admin = testKafka().admin();
    await admin.connect();
    await pinGroupAtEnd(admin, groupId, [topicNames.follows, topicNames.koos]);
  });

  afterAll(async () => {
    for (const p of processes) p.child.kill('SIGKILL');
    await Promise.all([admin?.disconnect(), db?.end()]);
    read.dynamo.destroy();
  });

  it('resumes after the restart and gives every follower the koo exactly once', async () => {
    const author = newId();
    const followers = Array.from({ length: FOLLOWERS }, newId);
    await db.query(sql.insertUser, [author, `crash_${author}`, 'Crash', false]);
    await loadFollowers(read.dynamo, tableName('graph', tablePrefix), author, followers);
    const kooId = newId();

    const victim = start();
    await db.query(sql.insertKoo, [kooId, author, null, 'hi', 'to everyone', null, new Date().toISOString()]);
    const progress = await waitFor(
      'the fan-out to be under way',
      async () => {
        const written = ((await read.fanOutRecord(kooId))?.[F.written] as number | undefined) ?? 0;
        return written >= 2_000 && written;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    victim.child.kill('SIGKILL');
    await victim.exited;
    expect(progress).toBeLessThan(FOLLOWERS); // killed mid-way, not after

    start();
    await waitFor(
      'the fan-out to finish',
      async () => (await read.fanOutRecord(kooId))?.[F.state] === 'pushed',
      {
        timeoutMs: 120_000,
        intervalMs: 500,
      },
    );
    const entries = await read.entriesOfKoo(kooId);
    expect(entries.length).toBe(FOLLOWERS);
    expect(new Set(entries.map((e) => e[F.userId] as string))).toEqual(new Set(followers));
  });
});
