import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentAttr as A } from '../../schemas/koo-content.ts';
import { topicNames } from '../../schemas/topics.ts';
import type { RunningWorker } from '../../shared/runtime/run-worker.ts';
import { engagementWorkerModule } from '../../workers/engagement/engagement-worker.ts';
import { feedWorkerModule } from '../../workers/feed/feed-worker.ts';
import { sql } from '../support/content.ts';
import { engagementReadPath, engagementTestEnv } from '../support/engagement.ts';
import { feedReadPath } from '../support/feed.ts';
import { newId, runId } from '../support/ids.ts';
import { groupCaughtUp, pinGroupAtEnd, testKafka } from '../support/kafka.ts';
import { sourceDb } from '../support/postgres.ts';
import { waitFor } from '../support/wait-for.ts';
import { startWorkerInProcess } from '../support/workers.ts';

const engagementEnv = engagementTestEnv('resnapshot');
const feedGroup = `test-resnapshot-feed-${runId}`;
const groups = [
  { group: engagementEnv.ENGAGEMENT_GROUP_ID!, topics: [topicNames.reactions, topicNames.koos] },
  { group: feedGroup, topics: [topicNames.follows, topicNames.koos] },
];

/** The sum of a topic's partition ends. */
async function topicEnd(admin: Admin, topic: string): Promise<number> {
  return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
}

describe('a Debezium re-snapshot (incremental, through the signal table) changes no view', () => {
  let db: pg.Pool;
  let admin: Admin;
  const workers: RunningWorker[] = [];
  const engagement = engagementReadPath(engagementEnv);
  const feed = feedReadPath(50);

  beforeAll(async () => {
    db = sourceDb();
    admin = testKafka().admin();
    await admin.connect();
    for (const { group, topics } of groups) await pinGroupAtEnd(admin, group, topics);
    workers.push(
      await startWorkerInProcess(engagementWorkerModule, engagementEnv),
      await startWorkerInProcess(feedWorkerModule, { FEED_GROUP_ID: feedGroup }),
    );
  });

  afterAll(async () => {
    for (const w of workers) await w.close();
    await engagement.flushRedis();
    engagement.close();
    feed.dynamo.destroy();
    await Promise.all([admin?.disconnect(), db?.end()]);
  });

  it("reads a follow, a koo and its reply again as 'r' events: no score, count, feed or fan-out moves", async () => {
    const [author, follower, kooId, replyId] = [newId(), newId(), newId(), newId()];
    const at = new Date(Date.now() - 60_000);
    for (const u of [author, follower]) await db.query(sql.insertUser, [u, `h_${u}`, 'Snapshot', false]);
    await db.query('insert into follows (follower_id, followee_id) values ($1, $2)', [follower, author]);
    await db.query(sql.insertKoo, [kooId, author, null, 'hi', 'a koo', null, at]);
    await db.query(sql.insertKoo, [replyId, follower, kooId, 'hi', 'a reply', null, at]);

    const views = async () => {
      const item = await engagement.rawItem(kooId);
      return {
        score: item?.[A.score] as number | undefined,
        landmark: item?.[A.scoreLandmark] as number | undefined,
        followers: (await feed.graph.followerCounts([author])).get(author),
        feed: await feed.contentIds(follower),
        fanOutVersion: (await feed.fanOutRecord(kooId))?.v as number | undefined,
      };
    };
    const live = await waitFor(
      'the reply scored, the follow counted, the koo in the follower’s feed',
      async () => {
        const v = await views();
        return v.score !== undefined && v.followers === 1 && v.feed.includes(kooId) && v.fanOutVersion
          ? v
          : undefined;
      },
      { timeoutMs: 60_000 },
    );

    const before = {
      koos: await topicEnd(admin, topicNames.koos),
      follows: await topicEnd(admin, topicNames.follows),
      dlq: await topicEnd(admin, topicNames.dlq),
    };
    await db.query('insert into debezium_signal (id, type, data) values ($1, $2, $3)', [
      newId(),
      'execute-snapshot',
      JSON.stringify({
        type: 'incremental',
        'data-collections': ['public.koos', 'public.follows'],
        'additional-conditions': [
          { 'data-collection': 'public.koos', filter: `content_id in ('${kooId}', '${replyId}')` },
          { 'data-collection': 'public.follows', filter: `follower_id = '${follower}'` },
        ],
      }),
    ]);
    await waitFor(
      "the snapshot's 'r' events in Kafka, read by both workers",
      async () => {
        const koos = (await topicEnd(admin, topicNames.koos)) - before.koos;
        const follows = (await topicEnd(admin, topicNames.follows)) - before.follows;
        if (koos < 2 || follows < 1) return false;
        for (const { group, topics } of groups)
          if (!(await groupCaughtUp(admin, group, topics))) return false;
        return true;
      },
      { timeoutMs: 90_000 },
    );
    expect(await views()).toEqual(live);
    // Read, not dead-lettered: an incremental snapshot's rows carry no LSN of their own.
    expect(await topicEnd(admin, topicNames.dlq)).toBe(before.dlq);
  });
});
