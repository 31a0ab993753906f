import type { Admin } from 'kafkajs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicNames } from '../../schemas/topics.ts';
import type { ReactionProducer } from '../../clients/producer/reaction-producer.ts';
import { newId, runId } from '../support/ids.ts';
import { pinGroupAtEnd, testKafka } from '../support/kafka.ts';
import { expectLikesDeliveredOnce, likeRound, seedViews } from '../support/notify.ts';
import { freePort, killService, privateStack, undoAfterAll } from '../support/private-stack.ts';
import { testReactionProducer } from '../support/reactions.ts';
import { waitFor } from '../support/wait-for.ts';
import { startWebhook } from '../support/webhook.ts';
import { spawnWorker, type WorkerProcess, crashSessionTimeout } from '../support/workers.ts';

// Redis is lost whole (killed, its append-only file gone, started empty) while notifications are
// being aggregated, queued and sent, and the offsets of their events are committed. The notify
// worker finds Redis without its epoch, restores the jobs the sender finished from the ledger
// (DynamoDB) and replays the log from NOTIFY_REWIND_MS ago: every like reaches its koo's creator,
// counted once, and no notification is delivered twice. A Redis of its own, so that the one the
// other tests use is not touched.

const KOOS = 60;
const ROUNDS = 3;
const topics = [topicNames.reactions, topicNames.koos, topicNames.follows];

describe('notify worker and sender, Redis restarted empty mid-load', () => {
  const undo = undoAfterAll();
  let admin: Admin;
  let producer: ReactionProducer;
  const processes: WorkerProcess[] = [];
  const webhookP = startWebhook(() => 200);
  let webhook: Awaited<typeof webhookP>;
  let stack: ReturnType<typeof privateStack>;
  let stackDir: string;
  let env: Record<string, string>;
  const koos = Array.from({ length: KOOS }, (_, i) => ({
    id: `c${newId()}`,
    creator: `r${newId()}`,
    likers: 1 + (i % 5),
  }));

  beforeAll(async () => {
    webhook = await webhookP;
    stackDir = join(await undo.tempDir('koo-redis-loss-'), '.stack');
    const port = await freePort();
    stack = privateStack({ KOO_STACK_DIR: stackDir, REDIS_PORT: String(port) }, 60_000);
    undo.push(() => stack('down', 'redis'));
    await stack('up', 'redis');
    env = {
      REDIS_URL: `redis://127.0.0.1:${port}`,
      NOTIFY_PREFIX: `itest-notify-loss-${runId}`,
      NOTIFY_GROUP_ID: `test-notify-loss-${runId}`,
      NOTIFY_WINDOW_MS: '1500',
      NOTIFY_ATTEMPTS: '20',
      NOTIFY_BACKOFF_MS: '200',
      NOTIFY_LOCK_MS: '3000',
      NOTIFY_RECIPIENT_LIMIT: '1000',
      NOTIFY_REWIND_MS: '180000',
      BATCH_SIZE: '50',
      ...crashSessionTimeout,
      NOTIFY_WEBHOOK_URL: webhook.url,
    };
    admin = testKafka().admin();
    await admin.connect();
    producer = await testReactionProducer();
    await seedViews(koos, []);
    await pinGroupAtEnd(admin, env.NOTIFY_GROUP_ID!, topics);
  });

  afterAll(async () => {
    for (const p of processes) p.child.kill('SIGKILL');
    await producer?.close();
    await admin?.disconnect();
    await webhook?.close();
  });

  const start = (worker: 'notify' | 'notify-sender') => {
    const p = spawnWorker(worker, env);
    processes.push(p);
    return p;
  };

  /** SIGKILL, the append-only file removed, started again: a Redis that lost everything. */
  const restartRedisEmpty = async () => {
    await killService(stackDir, 'redis');
    await rm(join(stackDir, 'data', 'redis'), { recursive: true, force: true });
    await stack('up', 'redis');
  };

  it('delivers every notification the log implies exactly once', async ({ onTestFailed }) => {
    // What the workers logged is what tells a failure apart: print it then.
    onTestFailed(() => {
      for (const p of processes) console.error(p.output().slice(-20_000));
    });
    const notify = start('notify');
    start('notify-sender');
    await likeRound(producer, koos, 0);
    await waitFor('the first round delivered', () => webhook.accepted.size >= KOOS, {
      timeoutMs: 60_000,
    });
    await likeRound(producer, koos, 1);
    // Mid-load: the round's actors are being added, their jobs queued or due.
    await waitFor('the second round delivering', () => webhook.accepted.size > KOOS + 5, {
      timeoutMs: 60_000,
      intervalMs: 20,
    });
    await restartRedisEmpty();
    await likeRound(producer, koos, 2);

    await expectLikesDeliveredOnce(webhook, koos, ROUNDS);
    // Delivered once: no key came twice, not even with the same content.
    const ours = new Set(koos.map((k) => k.id));
    const keys = webhook.calls.filter((c) => ours.has(c.notification.kooId ?? '')).map((c) => c.key);
    expect(keys.length - new Set(keys).size).toBe(0);
    expect(notify.output()).toMatch(/redis lost the notification state/);
  });
});
