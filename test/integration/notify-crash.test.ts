import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicNames } from '../../schemas/topics.ts';
import type { ReactionProducer } from '../../clients/producer/reaction-producer.ts';
import type { NotificationStore } from '../../workers/notify/notification-store.ts';
import { newId, runId } from '../support/ids.ts';
import { pinGroupAtEnd, testKafka } from '../support/kafka.ts';
import { expectLikesDeliveredOnce, likeRound, notificationStore, seedViews } from '../support/notify.ts';
import { testReactionProducer } from '../support/reactions.ts';
import { waitFor } from '../support/wait-for.ts';
import { startWebhook } from '../support/webhook.ts';
import { spawnWorker, type WorkerProcess, crashSessionTimeout } from '../support/workers.ts';

const KOOS = 150;
const ROUNDS = 3;
const topics = [topicNames.reactions, topicNames.koos, topicNames.follows];
const env = {
  NOTIFY_PREFIX: `itest-notify-crash-${runId}`,
  NOTIFY_GROUP_ID: `test-notify-crash-${runId}`,
  NOTIFY_WINDOW_MS: '1500',
  NOTIFY_ATTEMPTS: '20',
  NOTIFY_BACKOFF_MS: '200',
  NOTIFY_LOCK_MS: '3000',
  NOTIFY_SENDER_CONCURRENCY: '4',
  NOTIFY_RECIPIENT_LIMIT: '1000',
  BATCH_SIZE: '50',
  ...crashSessionTimeout,
};

describe('notify worker and sender, each SIGKILLed mid-run', () => {
  let admin: Admin;
  let producer: ReactionProducer;
  let store: NotificationStore;
  const processes: WorkerProcess[] = [];
  const webhookP = startWebhook(() => 200);
  let webhook: Awaited<typeof webhookP>;
  const koos = Array.from({ length: KOOS }, (_, i) => ({
    id: `c${newId()}`,
    creator: `r${newId()}`,
    likers: 1 + (i % 7),
  }));
  const start = (worker: 'notify' | 'notify-sender') => {
    const p = spawnWorker(worker, { ...env, NOTIFY_WEBHOOK_URL: webhook.url });
    processes.push(p);
    return p;
  };
  const kill = async (p: WorkerProcess) => {
    p.child.kill('SIGKILL');
    await p.exited;
  };

  beforeAll(async () => {
    webhook = await webhookP;
    admin = testKafka().admin();
    await admin.connect();
    producer = await testReactionProducer();
    await seedViews(koos, []);
    await pinGroupAtEnd(admin, env.NOTIFY_GROUP_ID, topics);
    store = notificationStore(env.NOTIFY_PREFIX);
  });

  afterAll(async () => {
    for (const p of processes) p.child.kill('SIGKILL');
    await store?.obliterate();
    await store?.close();
    await producer?.close();
    await admin?.disconnect();
    await webhook?.close();
  });

  it('delivers every notification exactly once, with one content per idempotency key', async () => {
    let notify = start('notify');
    const sender = start('notify-sender');
    await likeRound(producer, koos, 0);
    await waitFor('some notifications delivered', () => webhook.accepted.size > 20);
    await kill(notify);
    await likeRound(producer, koos, 1);
    notify = start('notify');
    await waitFor('more notifications delivered', () => webhook.accepted.size > KOOS + 20);
    await kill(sender);
    start('notify-sender');
    await likeRound(producer, koos, 2);
    await kill(notify);
    start('notify');

    await expectLikesDeliveredOnce(webhook, koos, ROUNDS);
    expect(await store.queue.getFailedCount()).toBe(0);
  });
});
