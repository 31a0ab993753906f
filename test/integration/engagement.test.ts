import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicNames } from '../../schemas/topics.ts';
import type { ReactionType } from '../../schemas/reaction.ts';
import type { ReactionProducer } from '../../clients/producer/reaction-producer.ts';
import type { RunningWorker } from '../../shared/runtime/run-worker.ts';
import { engagementWorkerModule } from '../../workers/engagement/engagement-worker.ts';
import { engagementReadPath, engagementTestEnv, testReactionProducer } from '../support/engagement.ts';
import { newId } from '../support/ids.ts';
import { groupCaughtUp, pinGroupAtEnd, setOffsets, testKafka } from '../support/kafka.ts';
import { sourceDb } from '../support/postgres.ts';
import { waitFor } from '../support/wait-for.ts';
import { startWorkerInProcess } from '../support/workers.ts';

const HOUR = 3_600_000;
const topics = [topicNames.reactions, topicNames.koos];
const env = engagementTestEnv('engagement');
const groupId = env.ENGAGEMENT_GROUP_ID!;
const relative = (a: number, b: number) => (a === b ? 0 : Math.abs(a - b) / Math.abs(b));

describe('engagement worker against the stack', () => {
  const read = engagementReadPath(env);
  let admin: Admin;
  let db: pg.Pool;
  let producer: ReactionProducer;
  let worker: RunningWorker | undefined;
  const start: Record<string, { partition: number; offset: string }[]> = {};
  // The last reaction (T0 + 3 h) is stamped now: the contract refuses event times ahead of their record.
  const T0 = Date.now() - 3 * HOUR;
  const [a, b, c, d, e, f] = Array.from({ length: 6 }, newId) as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const repeated = newId(); // the once-per-user test's koo, out of the trending assertions
  // Other tests' reactions reach this worker's sets too (it reads the shared topics): look at this test's koos only.
  const mine = new Set([a, b, c, d, e, f]);
  const ids = (list: { contentId: string }[]) => list.map((k) => k.contentId).filter((id) => mine.has(id));
  const react = (contentId: string, type: ReactionType, timeMs: number, userId = newId()) =>
    producer.emit({ content_id: contentId, user_id: userId, type, event_time: timeMs });
  const caughtUp = () =>
    waitFor('the worker to catch up', () => groupCaughtUp(admin, groupId, topics), { timeoutMs: 90_000 });

  beforeAll(async () => {
    admin = testKafka().admin();
    await admin.connect();
    db = sourceDb();
    producer = await testReactionProducer();
    await pinGroupAtEnd(admin, groupId, topics);
    for (const topic of topics)
      start[topic] = (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions;
    for (const [id, lang] of [
      [a, 'hi'],
      [b, 'hi'],
      [c, 'hi'],
      [d, 'kn'],
      [e, 'kn'],
      [f, 'hi'],
      [repeated, 'hi'],
    ] as const)
      await read.putKoo(id, lang);
    worker = await startWorkerInProcess(engagementWorkerModule, env);
  });

  afterAll(async () => {
    await worker?.close();
    await read.flushRedis();
    await Promise.all([producer?.close(), admin?.disconnect(), db?.end()]);
    read.close();
  });

  it('ranks koos per language by decayed, weighted engagement, and re-ranks as time passes', async () => {
    // With a 1 h half-life, at T0: c 4 (a reply now), d 2*2/sqrt(2) (two rekoos 30 min ago),
    // b 3/2 (a share 1 h ago), e 1 (a like now), a 3/4 (three likes 2 h ago: four, one taken back).
    const takenBack = newId();
    await react(a, 'like', T0 - 2 * HOUR, takenBack); // before its unlike in the log: the same millisecond, the unlike wins
    await Promise.all([
      react(a, 'like', T0 - 2 * HOUR),
      react(a, 'like', T0 - 2 * HOUR),
      react(a, 'unlike', T0 - 2 * HOUR, takenBack),
      react(a, 'like', T0 - 2 * HOUR),
      react(b, 'share', T0 - HOUR),
      react(d, 'rekoo', T0 - HOUR / 2),
      react(d, 'rekoo', T0 - HOUR / 2),
      react(e, 'like', T0),
    ]);
    await db.query(
      'insert into koos (content_id, creator_id, parent_id, lang, body, created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $6)',
      [newId(), newId(), c, 'hi', 'a reply', new Date(T0).toISOString()],
    );
    await waitFor('the reply to be scored', async () => (await read.rawItem(c))?.es !== undefined, {
      timeoutMs: 60_000,
    });
    await caughtUp();

    read.clock.now = T0;
    const expected = { [c]: 4, [d]: 4 * 2 ** -0.5, [b]: 1.5, [e]: 1, [a]: 0.75 };
    for (const [id, score] of Object.entries(expected)) {
      expect(relative((await read.queries.score(id)).score, score)).toBeLessThan(1e-9);
    }
    expect(ids(await read.queries.trendingKoos('hi', 5000))).toEqual([c, b, a]);
    expect(ids(await read.queries.trendingKoos('kn', 5000))).toEqual([d, e]);
    expect(ids(await read.queries.trendingKoos('*', 5000)).slice(0, 2)).toEqual([c, d]);

    // Four half-lives on, a's 3/4 is 3/64, below the 0.05 threshold: it has left trending.
    read.clock.now = T0 + 4 * HOUR;
    const later = (await read.queries.trendingKoos('hi', 5000)).filter((k) => mine.has(k.contentId));
    expect(ids(later)).toEqual([c, b]);
    expect(relative(later[0]!.score, 4 / 16)).toBeLessThan(1e-9);

    // A single like three half-lives after the reply outranks it then: 1 > 4/8.
    await react(f, 'like', T0 + 3 * HOUR);
    await caughtUp();
    read.clock.now = T0 + 3 * HOUR;
    expect(ids(await read.queries.trendingKoos('hi', 5000)).slice(0, 2)).toEqual([f, c]);
  });

  it("counts a user's reaction once: a repeated like, an app's retry, a second share, an unlike of nothing", async () => {
    const [u1, u2, u3] = [newId(), newId(), newId()];
    const t = T0 - HOUR;
    const like = await producer.emit({ content_id: repeated, user_id: u1, type: 'like', event_time: t });
    await producer.emit({ ...like }); // the app retries the same event (same event id)
    for (const r of [
      { user_id: u1, type: 'like' }, // a double tap
      { user_id: u1, type: 'share' },
      { user_id: u1, type: 'share' },
      { user_id: u2, type: 'like' },
      { user_id: u2, type: 'unlike' },
      { user_id: u2, type: 'unlike' },
      { user_id: u3, type: 'unlike' },
    ] as const)
      await producer.emit({ content_id: repeated, event_time: t, ...r });
    await caughtUp();
    // u1's like and share an hour ago (1 + 3, halved); u2's like is taken back once; u3 had nothing.
    read.clock.now = T0;
    expect((await read.queries.score(repeated)).score).toBeCloseTo(2, 9);
  });

  it('leaves every score unchanged when the topics are replayed', async () => {
    const before = new Map<string, number>();
    for (const id of [a, b, c, d, e, f, repeated]) before.set(id, (await read.queries.score(id)).score);
    await worker!.close();
    await setOffsets(
      groupId,
      topics.map((topic) => ({ topic, partitions: start[topic]! })),
    );
    worker = await startWorkerInProcess(engagementWorkerModule, env);
    await caughtUp();
    for (const [id, score] of before)
      expect(relative((await read.queries.score(id)).score, score)).toBeLessThan(1e-9);
  });

  it('rebuilds trending from the DynamoDB snapshot after the Redis keys are lost', async () => {
    read.clock.now = T0;
    const expected = (await read.queries.trendingKoos('hi', 5000)).filter((k) => mine.has(k.contentId));
    // The worker snapshots every second; wait for one that has every koo of the language.
    await waitFor('a snapshot with every koo', async () => {
      const snapshot = await read.trending.snapshotOf('hi');
      return [a, b, c, f].every((id) => id in snapshot);
    });
    await read.flushRedis();
    expect(await read.redis.exists(`${env.TRENDING_KEY_PREFIX}trending:hi`)).toBe(0);
    const rebuilt = (await read.queries.trendingKoos('hi', 5000)).filter((k) => mine.has(k.contentId));
    expect(ids(rebuilt)).toEqual(ids(expected));
    rebuilt.forEach((k, i) => expect(relative(k.score, expected[i]!.score)).toBeLessThan(1e-9));
  });

  it('drops a deleted (moderated) koo from trending for good, whatever reactions still arrive', async () => {
    const g = newId();
    mine.add(g);
    const now = Date.now();
    read.clock.now = now;
    await read.putKoo(g, 'hi');
    await db.query(
      'insert into koos (content_id, creator_id, parent_id, lang, body, created_at, updated_at) values ($1, $2, null, $3, $4, $5, $5)',
      [g, newId(), 'hi', 'to be moderated', new Date(now).toISOString()],
    );
    await Promise.all([react(g, 'share', now), react(g, 'share', now), react(g, 'rekoo', now)]);
    await caughtUp();
    const trendingNow = async () => [
      ...ids(await read.queries.trendingKoos('hi', 5000)),
      ...ids(await read.queries.trendingKoos('*', 5000)),
    ];
    expect((await trendingNow()).filter((id) => id === g)).toEqual([g, g]);

    await db.query('delete from koos where content_id = $1', [g]);
    await waitFor('the deleted koo out of trending', async () => !(await trendingNow()).includes(g), {
      timeoutMs: 60_000,
    });
    await react(g, 'like', now); // in flight when it was deleted
    await caughtUp();
    expect(await trendingNow()).not.toContain(g);
  });
});
