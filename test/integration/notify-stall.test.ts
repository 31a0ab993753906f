import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicNames } from '../../schemas/topics.ts';
import type { ReactionProducer } from '../../clients/producer/reaction-producer.ts';
import type { NotificationStore } from '../../workers/notify/notification-store.ts';
import { newId, runId } from '../support/ids.ts';
import { pinGroupAtEnd, testKafka } from '../support/kafka.ts';
import { notificationStore, seedViews } from '../support/notify.ts';
import { testReactionProducer } from '../support/reactions.ts';
import { waitFor } from '../support/wait-for.ts';
import { startWebhook } from '../support/webhook.ts';
import { workerReplicas } from '../support/workers.ts';

const STALLS = 2;
const env = {
  NOTIFY_PREFIX: `itest-notify-stall-${runId}`,
  NOTIFY_GROUP_ID: `test-notify-stall-${runId}`,
  NOTIFY_WINDOW_MS: '500',
  NOTIFY_LOCK_MS: '1000', // a killed sender's job is found stalled within seconds
  NOTIFY_WEBHOOK_TIMEOUT_MS: '60000', // the call hangs until its sender is killed, not timed out
};

/**
 * A sender that loses a job's lock mid-delivery (killed, or its event loop held past
 * NOTIFY_LOCK_MS on a busy host) stalls the job: BullMQ puts it back to waiting, and by default
 * fails it for good at the second stall ("job stalled more than allowable limit"), as a follow
 * notification was in the scale test. Delivery is idempotent, so a stall is run again instead.
 */
describe('notify sender: a delivery that stalls again and again', () => {
  let admin: Admin;
  let producer: ReactionProducer;
  let store: NotificationStore;
  const koo = { id: `c${newId()}`, creator: `r${newId()}` };
  const webhookP = startWebhook((n, attempt) => (n.kooId === koo.id && attempt <= STALLS ? 'hang' : 200));
  let webhook: Awaited<typeof webhookP>;
  let notify: ReturnType<typeof workerReplicas>;
  let senders: ReturnType<typeof workerReplicas>;

  beforeAll(async () => {
    webhook = await webhookP;
    admin = testKafka().admin();
    await admin.connect();
    producer = await testReactionProducer();
    await seedViews([koo], []);
    await pinGroupAtEnd(admin, env.NOTIFY_GROUP_ID, [
      topicNames.reactions,
      topicNames.koos,
      topicNames.follows,
    ]);
    store = notificationStore(env.NOTIFY_PREFIX);
    notify = workerReplicas('notify', env);
    senders = workerReplicas('notify-sender', { ...env, NOTIFY_WEBHOOK_URL: webhook.url });
  });

  afterAll(async () => {
    notify?.killAll();
    senders?.killAll();
    await store?.obliterate();
    await store?.close();
    await producer?.close();
    await admin?.disconnect();
    await webhook?.close();
  });

  it(`is delivered once after its sender is killed mid-call ${STALLS} times, not failed`, async () => {
    notify.start();
    await producer.emit({ type: 'like', content_id: koo.id, user_id: `u${newId()}`, event_time: Date.now() });
    const callsOfKoo = () => webhook.calls.filter((c) => c.notification.kooId === koo.id);
    for (let stall = 1; stall <= STALLS; stall++) {
      const sender = senders.start();
      await waitFor(`delivery ${stall} under way`, () => callsOfKoo().length >= stall, { timeoutMs: 60_000 });
      sender.child.kill('SIGKILL');
      await sender.exited;
    }
    senders.start();
    const failed = async () => (await store.queue.getFailed()).map((job) => job.failedReason);
    await waitFor(
      'the notification accepted, or its job failed',
      async () => webhook.to(koo.creator).length === 1 || (await failed()).length > 0,
      { timeoutMs: 60_000 },
    );
    expect(await failed()).toEqual([]);
    expect(webhook.to(koo.creator)).toMatchObject([{ kooId: koo.id, count: 1 }]);
    expect(callsOfKoo().map((c) => c.status)).toEqual([0, 0, 200]);
  });
});
