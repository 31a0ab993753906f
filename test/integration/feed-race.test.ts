import { describe, expect, it } from 'vitest';
import { topicNames } from '../../schemas/topics.ts';
import { createFeedWorker, loadFeedConfig, type FeedWorker } from '../../workers/feed/feed-worker.ts';
import { envelope, kooRow, rawRecord } from '../support/cdc-events.ts';
import { feedReadPath } from '../support/feed.ts';
import { newId } from '../support/ids.ts';
import { handlerContext } from '../support/workers.ts';

const ctx = handlerContext();

/**
 * A follow and a koo of the followee at the same moment (issue 14, item 3), each handled by its
 * own feed worker member as their partitions would be, against the stack's DynamoDB; the content
 * worker is not running, as in an outage of it: the koo is in no content view.
 */
describe('feed worker: a follow and a koo of the followee at the same moment', () => {
  const read = feedReadPath(loadFeedConfig(process.env).FEED_CAP);
  let lsn = 1;
  const koo = (w: FeedWorker, author: string) => {
    const id = newId();
    const row = kooRow(id, { creator_id: author, created_at: new Date(Date.now() - 60_000).toISOString() });
    const raw = rawRecord(topicNames.koos, envelope('koos', 'c', null, row, lsn++));
    return { id, record: { raw, value: w.decode(raw)! } };
  };
  const follow = (w: FeedWorker, follower: string, followee: string) => {
    const row = { follower_id: follower, followee_id: followee, created_at: new Date().toISOString() };
    const raw = rawRecord(topicNames.follows, envelope('follows', 'c', null, row, lsn++));
    return { raw, value: w.decode(raw)! };
  };

  it('meets in the feed when the koo came first and the content view has not shown it yet', async () => {
    const w = createFeedWorker(loadFeedConfig(process.env));
    const [author, follower] = [newId(), newId()];
    const k = koo(w, author);
    await w.handle([k.record], ctx); // no followers yet: nothing fanned out
    await w.handle([follow(w, follower, author)], ctx);
    expect(await read.contentIds(follower)).toEqual([k.id]);
  });

  it('meets in the feed every time when the two race (25 pairs, two members)', async () => {
    const [koos, follows] = [
      createFeedWorker(loadFeedConfig(process.env)),
      createFeedWorker(loadFeedConfig(process.env)),
    ];
    const pairs = Array.from({ length: 25 }, () => ({ author: newId(), follower: newId() }));
    const raced = await Promise.all(
      pairs.map(async ({ author, follower }) => {
        const k = koo(koos, author);
        await Promise.all([
          koos.handle([k.record], ctx),
          follows.handle([follow(follows, follower, author)], ctx),
        ]);
        return { follower, kooId: k.id };
      }),
    );
    const missed = [];
    for (const { follower, kooId } of raced)
      if (!(await read.contentIds(follower)).includes(kooId)) missed.push(kooId);
    expect(missed).toEqual([]);
  });
});
