import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicNames } from '../../schemas/topics.ts';
import type { RunningWorker } from '../../shared/runtime/run-worker.ts';
import { contentWorkerModule } from '../../workers/content/content-worker.ts';
import { feedWorkerModule } from '../../workers/feed/feed-worker.ts';
import { sql } from '../support/content.ts';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { tableName } from '../../schemas/tables.ts';
import { contentAttr as A } from '../../schemas/koo-content.ts';
import { landmarkOf } from '../../workers/engagement/decay.ts';
import { decaySettingsOf } from '../../workers/engagement/engagement-worker.ts';
import { engagementReadPath } from '../support/engagement.ts';
import { feedReadPath } from '../support/feed.ts';
import { newId, runId } from '../support/ids.ts';
import { groupCaughtUp, pinGroupAtEnd, setOffsets, testKafka } from '../support/kafka.ts';
import { logEnds } from '../../shared/kafka/consumer-lag.ts';
import { sourceDb } from '../support/postgres.ts';
import { waitFor } from '../support/wait-for.ts';
import { startWorkerInProcess } from '../support/workers.ts';

const CAP = 5;
const feedGroup = `test-feed-${runId}`;
const contentGroup = `test-feed-content-${runId}`;
const feedTopics = [topicNames.follows, topicNames.koos];
const base = Date.now() - 3_600_000;
const at = (second: number) => new Date(base + second * 1000).toISOString();

describe('feed worker (follows and koos CDC → koo_graph, koo_feed; read path)', () => {
  let db: pg.Pool;
  let admin: Admin;
  const workers: RunningWorker[] = [];
  const read = feedReadPath(CAP);
  /** Where the koos topic ended before this file wrote anything: the replay starts there. */
  let koosStart: { partition: number; offset: string }[];

  const users = async (count: number, eminent = false) => {
    const ids = Array.from({ length: count }, newId);
    for (const id of ids) await db.query(sql.insertUser, [id, `u_${id}`, `User ${id}`, eminent]);
    return ids;
  };
  const follow = (follower: string, followee: string) =>
    db.query('insert into follows (follower_id, followee_id) values ($1, $2)', [follower, followee]);
  const koo = async (creator: string, second: number, parent: string | null = null) => {
    const id = newId();
    await db.query(sql.insertKoo, [id, creator, parent, 'hi', `koo ${id}`, null, at(second)]);
    return id;
  };
  const feedOf = (user: string) => read.contentIds(user);

  beforeAll(async () => {
    db = sourceDb();
    admin = testKafka().admin();
    await admin.connect();
    koosStart = await logEnds(admin, topicNames.koos);
    await pinGroupAtEnd(admin, feedGroup, feedTopics);
    await pinGroupAtEnd(admin, contentGroup, [topicNames.koos, topicNames.users]);
    workers.push(
      await startWorkerInProcess(contentWorkerModule, { CONTENT_GROUP_ID: contentGroup }),
      await startWorkerInProcess(feedWorkerModule, {
        FEED_GROUP_ID: feedGroup,
        FEED_CAP: String(CAP),
        FEED_TRIM_EVERY: '1',
        FEED_EMINENT_FOLLOWERS: '3',
        FEED_BACKFILL_KOOS: '3',
        FEED_FANOUT_PAGE: '2', // several pages, so checkpoints are exercised
      }),
    );
  });

  afterAll(async () => {
    for (const w of workers) await w.close();
    await Promise.all([admin?.disconnect(), db?.end()]);
    read.dynamo.destroy();
  });

  let author: string;
  let followers: string[];
  let rootKoo: string;

  it('keeps the graph with exact counts and fans top-level koos out to every follower', async () => {
    author = (await users(1))[0]!;
    followers = await users(3);
    await follow(followers[0]!, author!);
    await follow(followers[1]!, author!);
    await follow(followers[2]!, author!);
    await waitFor('three followers counted', async () => (await read.graph.counts(author)).followers === 3);
    expect(await read.graph.counts(followers[0]!)).toEqual({ followers: 0, following: 1 });
    const page1 = await read.graph.followers(author, 2);
    const page2 = await read.graph.followers(author, 2, page1.next);
    expect([...page1.followerIds, ...page2.followerIds].sort()).toEqual([...followers].sort());

    rootKoo = await koo(author, 10);
    const reply = await koo(author, 11, rootKoo);
    await waitFor('the koo in every follower feed', async () => {
      const feeds = await Promise.all(followers.map(feedOf));
      return feeds.every((f) => f.includes(rootKoo));
    });
    await waitFor('the feed worker to pass the reply', () => groupCaughtUp(admin, feedGroup, feedTopics));
    for (const f of followers) expect(await feedOf(f)).not.toContain(reply);
    expect((await read.fanOutRecord(rootKoo))?.s).toBe('pushed');

    const feed = await read.queries.feed(followers[0]!);
    expect(feed.items).toHaveLength(1);
    expect(feed.items[0]).toMatchObject({
      contentId: rootKoo,
      creatorId: author,
      creatorHandle: `u_${author}`,
      body: `koo ${rootKoo}`,
      likes: 0,
      source: 'pushed',
    });
  });

  it('shows each koo with its engagement score decayed to the read, as `koo query score` gives it', async () => {
    const scores = engagementReadPath({}); // the engagement worker's decay, as the feed's read path has it
    try {
      const now = Date.now();
      const decay = decaySettingsOf(scores.config);
      // A score as the engagement worker stores it: relative to a landmark hours back.
      const landmark = landmarkOf(now - 3 * decay.halfLifeMs, decay);
      await read.dynamo.doc.send(
        new UpdateCommand({
          TableName: tableName('content'),
          Key: { [A.contentId]: rootKoo },
          UpdateExpression: 'SET #s = :s, #l = :l',
          ExpressionAttributeNames: { '#s': A.score, '#l': A.scoreLandmark },
          ExpressionAttributeValues: { ':s': 1000, ':l': landmark },
        }),
      );
      scores.clock.now = now;
      const { score } = await scores.queries.score(rootKoo);
      expect(score).toBeGreaterThan(0);
      expect(score).toBeLessThan(1000);
      const [item] = (await read.queries.feed(followers[0]!, 20, undefined, now)).items;
      expect(item).toMatchObject({ contentId: rootKoo, score });
    } finally {
      scores.close();
    }
  });

  it("merges an eminent author's koos at read time without writing them to feeds", async () => {
    const [marked] = await users(1, true);
    const [popular] = await users(1); // above FEED_EMINENT_FOLLOWERS (3) by count
    const reader = followers[0]!;
    const fans = await users(3);
    await follow(reader, marked!);
    for (const f of [reader, ...fans]) await follow(f, popular!);
    await waitFor(
      'the popular author to have 4 followers',
      async () => (await read.graph.counts(popular!)).followers === 4,
    );
    // The eminent mark reaches koo_users through the content worker (a group of its own).
    await waitFor('the eminent mark in koo_users', async () => (await read.user(marked!))?.e === true);
    const k1 = await koo(marked!, 20);
    const k2 = await koo(popular!, 21);
    await waitFor(
      'both koos recorded as pulled',
      async () =>
        (await read.fanOutRecord(k1))?.s === 'pulled' && (await read.fanOutRecord(k2))?.s === 'pulled',
    );
    await waitFor('both koos in the read feed', async () => {
      const ids = (await read.queries.feed(reader)).items.map((i) => i.contentId);
      return ids.includes(k1) && ids.includes(k2);
    });
    const feed = await read.queries.feed(reader);
    expect(feed.items.map((i) => [i.contentId, i.source])).toEqual([
      [k2, 'pulled'],
      [k1, 'pulled'],
      [rootKoo, 'pushed'],
    ]);
    for (const user of [reader, ...fans]) {
      const stored = await feedOf(user);
      expect(stored).not.toContain(k1);
      expect(stored).not.toContain(k2);
    }
  });

  it('retracts a deleted koo, removes an unfollowed author, backfills a new follow', async () => {
    const later = await koo(author, 30);
    await waitFor('the second koo fanned out', async () => (await feedOf(followers[1]!)).includes(later));
    await db.query('delete from koos where content_id = $1', [rootKoo]);
    await waitFor('the deleted koo gone from every feed', async () => {
      const feeds = await Promise.all(followers.map(feedOf));
      return feeds.every((f) => !f.includes(rootKoo));
    });
    expect((await read.fanOutRecord(rootKoo))?.s).toBe('retracted');

    await db.query('delete from follows where follower_id = $1 and followee_id = $2', [followers[1], author]);
    await waitFor(
      'the unfollowed author gone from the feed',
      async () => (await feedOf(followers[1]!)).length === 0,
    );
    expect(await read.graph.counts(author)).toEqual({ followers: 2, following: 0 });

    const [newcomer] = await users(1);
    await follow(newcomer!, author);
    await waitFor('the backfill', async () => (await feedOf(newcomer!)).includes(later));
    expect(await feedOf(newcomer!)).toEqual([later]); // the deleted koo is not backfilled
  });

  it('keeps every feed within its cap, oldest out first', async () => {
    const [prolific] = await users(1);
    const [reader] = await users(1);
    await follow(reader!, prolific!);
    await waitFor('the follow', async () => (await read.graph.counts(prolific!)).followers === 1);
    const ids: string[] = [];
    for (let i = 0; i < CAP + 3; i++) ids.push(await koo(prolific!, 40 + i));
    const newest = ids.slice(-CAP).reverse();
    // An entry is written before the trim that follows it, so storage holds one more for a moment;
    // what a reader is served never passes the cap, and storage settles at it.
    let largestServed = 0;
    await waitFor('the newest koos, and only them', async () => {
      largestServed = Math.max(largestServed, (await read.queries.feed(reader!, 100)).items.length);
      return JSON.stringify(await feedOf(reader!)) === JSON.stringify(newest);
    });
    expect(largestServed).toBeLessThanOrEqual(CAP);
    const page1 = await read.queries.feed(reader!, 3);
    const page2 = await read.queries.feed(reader!, 3, page1.cursor);
    expect([...page1.items, ...page2.items].map((i) => i.contentId)).toEqual(newest);
    expect(page2.cursor).toBeUndefined();
  });

  it('changes no feed when a fresh group replays the topics', async () => {
    await waitFor('the feed worker to catch up', () => groupCaughtUp(admin, feedGroup, feedTopics));
    const everyone = await Promise.all([author, ...followers].map(async (u) => [u, await read.entries(u)]));
    const counts = await read.graph.counts(author);

    // follows from offset 0; koos from this file's first record (the topic holds the benches' 100k+ koos).
    const replayGroup = `test-feed-replay-${runId}`;
    const followsStart = (await admin.fetchTopicOffsets(topicNames.follows)).map((p) => ({
      partition: p.partition,
      offset: p.low,
    }));
    await setOffsets(replayGroup, [
      { topic: topicNames.follows, partitions: followsStart },
      { topic: topicNames.koos, partitions: koosStart },
    ]);
    const replay = await startWorkerInProcess(feedWorkerModule, {
      FEED_GROUP_ID: replayGroup,
      FEED_CAP: String(CAP),
      FEED_TRIM_EVERY: '1',
      FEED_EMINENT_FOLLOWERS: '3',
      FEED_BACKFILL_KOOS: '3',
    });
    try {
      await waitFor('the replay to reach the end', () => groupCaughtUp(admin, replayGroup, feedTopics), {
        timeoutMs: 120_000,
      });
    } finally {
      await replay.close();
    }
    expect(await Promise.all([author, ...followers].map(async (u) => [u, await read.entries(u)]))).toEqual(
      everyone,
    );
    expect(await read.graph.counts(author)).toEqual(counts);
  });
});
