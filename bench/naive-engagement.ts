import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { contentAttr as A } from '../schemas/koo-content.ts';
import type { Dynamo } from '../shared/dynamodb/dynamo-client.ts';
import { metrics } from '../shared/metrics/metrics.ts';
import {
  contribution,
  landmarkOf,
  rebase,
  trendingRank,
  type DecaySettings,
} from '../workers/engagement/decay.ts';
import { weightOf, type EngagementWeights } from '../workers/engagement/decide.ts';
import type { RawRecord } from '../shared/kafka/records.ts';
import { runPerReactionConsumer } from './naive-consumer.ts';

/**
 * The baseline the engagement worker is measured against: what a first version would do. One
 * reaction at a time (eachMessage, auto-commit): read the koo's score, add the event, write it
 * back, and ZADD the result to the language's and the overall sorted set. It has no fence (a
 * replay double counts) and does not trim the sets: it does less than the worker.
 */
export function runNaiveEngagementConsumer(
  kafka: Kafka,
  dynamo: Dynamo,
  redis: Redis,
  options: {
    table: string;
    keyPrefix: string;
    groupId: string;
    registryUrl: string;
    decay: DecaySettings;
    weights: EngagementWeights;
  },
  onDone: (raw: RawRecord) => void,
): Promise<() => Promise<void>> {
  return runPerReactionConsumer(kafka, options.groupId, options.registryUrl, async (r, raw) => {
    const key = { [A.contentId]: r.content_id };
    const item = (
      await dynamo.call('GetItem', (d) =>
        d.send(new GetCommand({ TableName: options.table, Key: key, ConsistentRead: true })),
      )
    ).Item;
    const stored = (item?.[A.score] as number | undefined) ?? 0;
    const landmark = Math.max(
      (item?.[A.scoreLandmark] as number | undefined) ?? -Infinity,
      landmarkOf(r.event_time, options.decay),
    );
    const from = (item?.[A.scoreLandmark] as number | undefined) ?? landmark;
    const score =
      rebase(stored, from, landmark, options.decay) +
      contribution(weightOf(r.type, options.weights), r.event_time, landmark, options.decay);
    await dynamo.call('UpdateItem', (d) =>
      d.send(
        new UpdateCommand({
          TableName: options.table,
          Key: key,
          UpdateExpression: 'SET #s = :s, #l = :l',
          ExpressionAttributeNames: { '#s': A.score, '#l': A.scoreLandmark },
          ExpressionAttributeValues: { ':s': score, ':l': landmark },
        }),
      ),
    );
    const rank = trendingRank(score, landmark, options.decay);
    const lang = (item?.[A.lang] as string | undefined) ?? 'unknown';
    for (const set of [`${options.keyPrefix}trending:*`, `${options.keyPrefix}trending:${lang}`]) {
      metrics.redisRequests.inc({ operation: 'naive' });
      if (rank === undefined) await redis.zrem(set, r.content_id);
      else await redis.zadd(set, rank, r.content_id);
    }
    onDone(raw);
  });
}
