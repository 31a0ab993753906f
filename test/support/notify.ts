import type { Producer } from 'kafkajs';
import { expect } from 'vitest';
import type { ReactionProducer } from '../../clients/producer/reaction-producer.ts';
import type { Notification } from '../../workers/notify/message.ts';
import { tableName } from '../../schemas/tables.ts';
import { topicNames } from '../../schemas/topics.ts';
import { contentAttr as A, userAttr as U } from '../../schemas/koo-content.ts';
import { batchWrite } from '../../shared/dynamodb/batch-writer.ts';
import { loadConfig } from '../../shared/config/load-config.ts';
import { NotificationStore } from '../../workers/notify/notification-store.ts';
import { notificationQueueConfigSchema } from '../../workers/notify/notify-config.ts';
import { envelope, kooRow } from './cdc-events.ts';
import { stackEnv, testDynamo } from './stack-env.ts';
import { waitFor } from './wait-for.ts';

/**
 * What the notify worker reads from the content worker's views, written directly: the creator
 * of each koo and the handle and eminence of each user.
 */
export async function seedViews(
  koos: { id: string; creator: string }[],
  users: { id: string; handle?: string; eminent?: boolean }[],
): Promise<void> {
  const dynamo = testDynamo(10_000);
  try {
    await batchWrite(
      dynamo,
      tableName('content'),
      koos.map((k) => ({ put: { [A.contentId]: k.id, [A.creator]: k.creator } })),
      { keyAttributes: [A.contentId] },
    );
    await batchWrite(
      dynamo,
      tableName('users'),
      users.map((u) => ({
        put: {
          [U.userId]: u.id,
          [U.eminent]: u.eminent ?? false,
          ...(u.handle ? { [U.handle]: u.handle } : {}),
        },
      })),
      { keyAttributes: [U.userId] },
    );
  } finally {
    dynamo.destroy();
  }
}

let lsn = Date.now() * 1000;

/** Debezium events of new follows and replies, as the connector writes them (keyed by primary key). */
export async function produceCdc(
  producer: Producer,
  events: (
    | { follow: [follower: string, followee: string] }
    | { reply: [id: string, creator: string, parent: string] }
    | { koo: [id: string, creator: string] }
  )[],
): Promise<void> {
  const follows = events.flatMap((e) => ('follow' in e ? [e.follow] : []));
  const koos = events.flatMap((e): [id: string, creator: string, parent: string | null][] =>
    'reply' in e ? [e.reply] : 'koo' in e ? [[...e.koo, null]] : [],
  );
  // The event time of a CDC event is source.ts_ms: now, so that it falls in the current window.
  const now = Date.now();
  const at = new Date(now).toISOString();
  await producer.sendBatch({
    topicMessages: [
      {
        topic: topicNames.follows,
        messages: follows.map(([follower, followee]) => ({
          key: JSON.stringify({ follower_id: follower, followee_id: followee }),
          value: JSON.stringify(
            envelope(
              'follows',
              'c',
              null,
              { follower_id: follower, followee_id: followee, created_at: at },
              ++lsn,
              now,
            ),
          ),
        })),
      },
      {
        topic: topicNames.koos,
        messages: koos.map(([id, creator, parent]) => ({
          key: JSON.stringify({ content_id: id }),
          value: JSON.stringify(
            envelope('koos', 'c', null, kooRow(id, { creator_id: creator, parent_id: parent }), ++lsn, now),
          ),
        })),
      },
    ].filter((t) => t.messages.length > 0),
  });
}

/** The queue and aggregates of a test's prefix, to inspect and, after the test, obliterate. */
export function notificationStore(prefix: string): NotificationStore {
  return new NotificationStore(
    stackEnv.redisUrl,
    loadConfig(notificationQueueConfigSchema, { NOTIFY_PREFIX: prefix }),
  );
}

/** Likes every koo again with new actors (`u<round>-<n>`, `likers` of them); rounds land in different windows. */
export function likeRound(
  producer: ReactionProducer,
  koos: readonly { id: string; likers: number }[],
  round: number,
): Promise<unknown> {
  return Promise.all(
    koos.flatMap((k) =>
      Array.from({ length: k.likers }, (_, a) =>
        producer.emit({ type: 'like', content_id: k.id, user_id: `u${round}-${a}`, event_time: Date.now() }),
      ),
    ),
  );
}

/**
 * Waits until the webhook accepted every like of `rounds` rounds of `likeRound`, then expects each
 * counted exactly once and one content per idempotency key. Only these koos count: other tests'
 * follows and replies reach the worker too.
 */
export async function expectLikesDeliveredOnce(
  webhook: { accepted: ReadonlyMap<string, Notification>; conflicts: readonly string[] },
  koos: readonly { id: string; likers: number }[],
  rounds: number,
): Promise<void> {
  const expected = new Map(koos.map((k) => [k.id, k.likers * rounds]));
  const counted = () => {
    const sums = new Map<string, number>();
    for (const n of webhook.accepted.values()) {
      if (expected.has(n.kooId ?? '')) sums.set(n.kooId!, (sums.get(n.kooId!) ?? 0) + n.count);
    }
    return sums;
  };
  await waitFor(
    'every like delivered',
    () => koos.every((k) => (counted().get(k.id) ?? 0) >= expected.get(k.id)!),
    { timeoutMs: 120_000, intervalMs: 500 },
  );
  expect(counted()).toEqual(expected);
  expect(webhook.conflicts).toEqual([]);
}
