import type { Admin, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicNames } from '../../schemas/topics.ts';
import type { ReactionProducer } from '../../clients/producer/reaction-producer.ts';
import type { RunningWorker } from '../../shared/runtime/run-worker.ts';
import { windowStart } from '../../workers/notify/decide.ts';
import type { AggregateJobData, NotificationStore } from '../../workers/notify/notification-store.ts';
import { notifyWorkerModule } from '../../workers/notify/notify-worker.ts';
import { runSender, type RunningSender } from '../../workers/notify-sender/run-sender.ts';
import { newId, runId } from '../support/ids.ts';
import { groupCaughtUp, pinGroupAtEnd, setOffsets, testKafka } from '../support/kafka.ts';
import { logEnds } from '../../shared/kafka/consumer-lag.ts';
import { notificationStore, produceCdc, seedViews } from '../support/notify.ts';
import { testReactionProducer } from '../support/reactions.ts';
import { waitFor } from '../support/wait-for.ts';
import { startWebhook } from '../support/webhook.ts';
import { startWorkerInProcess } from '../support/workers.ts';

const topics = [topicNames.reactions, topicNames.koos, topicNames.follows];
// The window is also the rate-limit period: aggregates of one window are due together, at the
// start of a period, so they are counted in the same one.
const WINDOW_MS = 6_000;
const EMINENT_WINDOW_MS = 3_600_000;
const LIKERS = 1000;
const queueEnv = { NOTIFY_PREFIX: `itest-notify-${runId}`, NOTIFY_ATTEMPTS: '3', NOTIFY_BACKOFF_MS: '200' };

describe('notify worker and sender (reactions, replies, follows → one webhook delivery per aggregate)', () => {
  let admin: Admin;
  let cdc: Producer;
  let producer: ReactionProducer;
  let sender: RunningSender;
  let store: NotificationStore;
  let startOffsets: Map<string, { partition: number; offset: string }[]>;
  const workers: RunningWorker[] = [];
  const id = () => `n${newId()}`;
  const [owner, selfOnly, flaky, broken, busy, star, asha, ravi] = [
    id(),
    id(),
    id(),
    id(),
    id(),
    id(),
    id(),
    id(),
  ];
  const likedKoo = id();
  const selfKoo = id();
  const busyKoos = [id(), id(), id(), id()];
  const likers = [asha, ...Array.from({ length: LIKERS - 1 }, id)];
  const webhookP = startWebhook((n, attempt) => {
    if (n.recipient === broken) return 500;
    if (n.recipient === flaky && attempt <= 2) return 503;
    return 200;
  });
  let webhook: Awaited<typeof webhookP>;

  const startNotify = async (group: string) => {
    const w = await startWorkerInProcess(notifyWorkerModule, {
      ...queueEnv,
      NOTIFY_GROUP_ID: group,
      NOTIFY_WINDOW_MS: String(WINDOW_MS),
      NOTIFY_EMINENT_WINDOW_MS: String(EMINENT_WINDOW_MS),
      BATCH_SIZE: '500',
    });
    workers.push(w);
    return w;
  };
  const caughtUp = (group: string) =>
    waitFor(`${group} to commit the end of its topics`, () => groupCaughtUp(admin, group, topics));
  const mine = () =>
    webhook.calls.filter((c) => [owner, selfOnly, flaky, broken, busy].includes(c.notification.recipient));

  beforeAll(async () => {
    webhook = await webhookP;
    const kafka = testKafka();
    admin = kafka.admin();
    cdc = kafka.producer();
    await Promise.all([admin.connect(), cdc.connect()]);
    producer = await testReactionProducer();
    await seedViews(
      [
        { id: likedKoo, creator: owner },
        { id: selfKoo, creator: selfOnly },
        { id: `${flaky}-koo`, creator: flaky },
        { id: `${broken}-koo`, creator: broken },
        ...busyKoos.map((k) => ({ id: k, creator: busy })),
        { id: `${star}-koo`, creator: star },
      ],
      [
        { id: star, eminent: true },
        { id: asha, handle: 'asha' },
        { id: ravi, handle: 'ravi' },
      ],
    );
    startOffsets = new Map(await Promise.all(topics.map(async (t) => [t, await logEnds(admin, t)] as const)));
    const group = `test-notify-${runId}`;
    await pinGroupAtEnd(admin, group, topics);
    await startNotify(group);
    sender = await runSender({
      ownProcess: false,
      env: {
        ...process.env,
        ...queueEnv,
        LOG_LEVEL: 'error',
        NOTIFY_WEBHOOK_URL: webhook.url,
        NOTIFY_RECIPIENT_LIMIT: '3',
        NOTIFY_RECIPIENT_PERIOD_MS: String(WINDOW_MS),
      },
    });
    store = notificationStore(queueEnv.NOTIFY_PREFIX);
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close()));
    await sender?.close();
    await store?.obliterate();
    await store?.close();
    await producer?.close();
    await Promise.all([admin?.disconnect(), cdc?.disconnect()]);
    await webhook?.close();
  });

  it('1,000 likes in a window are one delivery naming the count; self-likes, repeats and an unlike add none', async () => {
    // All in the next window, so every event is in before its job is due.
    const at = windowStart(Date.now(), WINDOW_MS) + WINDOW_MS;
    const like = (user: string, koo: string, i = 0, type: 'like' | 'unlike' = 'like') =>
      producer.emit({ type, content_id: koo, user_id: user, event_time: at + i });
    await Promise.all([
      ...likers.map((u, i) => like(u, likedKoo, i)),
      like(owner, likedKoo, 5),
      ...likers.slice(0, 20).map((u, i) =>
        producer.emit({
          event_id: `${u}-again`,
          type: 'like',
          content_id: likedKoo,
          user_id: u,
          event_time: at + 2000 + i,
        }),
      ),
      like(ravi, likedKoo, 1500),
      like(selfOnly, selfKoo, 1),
      like(selfOnly, selfKoo, 2),
      like(asha, `${flaky}-koo`),
      like(asha, `${broken}-koo`),
      ...busyKoos.map((k) => like(ravi, k)),
    ]);
    await like(ravi, likedKoo, 1600, 'unlike');
    await produceCdc(cdc, [
      { reply: [id(), asha, likedKoo] },
      { follow: [ravi, owner] },
      { follow: [owner, owner] },
    ]);

    const toOwner = await waitFor('likes, reply and follow delivered to the owner', () => {
      const n = webhook.to(owner);
      return n.length === 3 && n;
    });
    const likes = toOwner.find((n) => n.kind === 'like')!;
    expect(likes).toMatchObject({
      kooId: likedKoo,
      count: LIKERS,
      text: `asha and ${LIKERS - 1} others liked your koo`,
    });
    expect(toOwner.find((n) => n.kind === 'reply')).toMatchObject({
      kooId: likedKoo,
      count: 1,
      text: 'asha replied to your koo',
    });
    expect(toOwner.find((n) => n.kind === 'follow')).toMatchObject({ count: 1, text: 'ravi followed you' });

    // The rate limit (3 per period) holds the busy recipient's fourth notification for a digest.
    const digest = await waitFor('the digest of the busy recipient', () =>
      webhook.to(busy).find((n) => n.kind === 'digest'),
    );
    expect(webhook.to(busy).filter((n) => n.kind === 'like')).toHaveLength(3);
    expect(digest).toMatchObject({ count: 1, text: 'ravi liked your koo' });
    expect(digest.items).toHaveLength(1);

    expect(webhook.to(selfOnly)).toEqual([]);
    expect(webhook.conflicts).toEqual([]);
  });

  it("an eminent creator's koos aggregate over the longer window", async () => {
    await producer.emit({ type: 'like', content_id: `${star}-koo`, user_id: asha, event_time: Date.now() });
    const job = await waitFor('the eminent aggregate to be queued', async () =>
      (await store.queue.getDelayed()).find((j) => j.data.recipient === star),
    );
    const { windowStartMs, windowEndMs } = job.data as AggregateJobData;
    expect(windowEndMs - windowStartMs).toBe(EMINENT_WINDOW_MS);
  });

  it('a webhook that fails twice then succeeds gets the notification once', async () => {
    const [n] = await waitFor(
      'the flaky webhook to accept',
      () => webhook.to(flaky).length === 1 && webhook.to(flaky),
    );
    expect(n).toMatchObject({ text: 'asha liked your koo' });
    expect(webhook.calls.filter((c) => c.key === n!.id).map((c) => c.status)).toEqual([503, 503, 200]);
  });

  it('a webhook that always fails leaves a failed job with the reason', async () => {
    const failed = await waitFor('a failed job', async () => {
      const jobs = await store.queue.getFailed();
      return jobs.find((j) => j.data.recipient === broken);
    });
    expect(failed.attemptsMade).toBe(3);
    expect(failed.failedReason).toBe('webhook answered 500 Internal Server Error');
    expect(webhook.to(broken)).toEqual([]);
  });

  it('a like and a reply that come before their koo notify its creator once the koo is seen', async () => {
    // The koo is in no view yet (its create is late on the koos topic, or the content worker lags).
    const [lateCreator, lateKoo] = [id(), id()];
    await producer.emit({ type: 'like', content_id: lateKoo, user_id: ravi, event_time: Date.now() });
    await produceCdc(cdc, [{ reply: [id(), asha, lateKoo] }]);
    await caughtUp(`test-notify-${runId}`);
    await produceCdc(cdc, [{ koo: [lateKoo, lateCreator] }]);

    const toCreator = await waitFor("the like and the reply delivered to the late koo's creator", () => {
      const n = webhook.to(lateCreator);
      return n.length === 2 && n;
    });
    expect(toCreator.find((n) => n.kind === 'like')).toMatchObject({
      kooId: lateKoo,
      text: 'ravi liked your koo',
    });
    expect(toCreator.find((n) => n.kind === 'reply')).toMatchObject({
      kooId: lateKoo,
      text: 'asha replied to your koo',
    });
  });

  it('a replay from the first offset (a fresh group) delivers nothing new', async () => {
    const before = mine().length;
    const replay = `test-notify-replay-${runId}`;
    await setOffsets(
      replay,
      [...startOffsets].map(([topic, partitions]) => ({ topic, partitions })),
    );
    await startNotify(replay);
    await caughtUp(replay);
    // Anything a replay queued would be due within a window.
    await new Promise((r) => setTimeout(r, WINDOW_MS + 2000));
    expect(mine().slice(before)).toEqual([]);
  });
});
