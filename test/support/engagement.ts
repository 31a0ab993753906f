import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { tableName } from '../../schemas/tables.ts';
import { contentAttr as A } from '../../schemas/koo-content.ts';
import { ReactionProducer } from '../../clients/producer/reaction-producer.ts';
import {
  decaySettingsOf,
  engagementStores,
  loadEngagementConfig,
  type EngagementConfig,
} from '../../workers/engagement/engagement-worker.ts';
import { EngagementQueries } from '../../workers/engagement/queries.ts';
import { runId } from './ids.ts';
import { stackEnv } from './stack-env.ts';

/** Settings of an engagement test run: its own group and Redis keys, a 1 h half-life, quick snapshots. */
export function engagementTestEnv(name: string): Record<string, string> {
  return {
    ENGAGEMENT_GROUP_ID: `test-${name}-${runId}`,
    TRENDING_KEY_PREFIX: `test-${name}-${runId}:`,
    ENGAGEMENT_HALF_LIFE_MINUTES: '60',
    ENGAGEMENT_LANDMARK_HALF_LIVES: '4',
    TRENDING_MIN_SCORE: '0.05',
    // Other tests' reactions reach these sets too (the topics are shared): keep room for this test's koos.
    TRENDING_TOP_K: '5000',
    TRENDING_SNAPSHOT_INTERVAL_MS: '1000',
    SESSION_TIMEOUT_MS: '10000',
  };
}

/** The read path of a test run, with a clock the test moves. */
export function engagementReadPath(env: Record<string, string>) {
  const config: EngagementConfig = loadEngagementConfig({ ...process.env, ...env });
  const { dynamo, redis, trending } = engagementStores(config);
  const clock = { now: Date.now() };
  const queries = new EngagementQueries(dynamo, {
    contentTable: tableName('content'),
    trending,
    decay: decaySettingsOf(config),
    now: () => clock.now,
  });
  return {
    config,
    dynamo,
    redis,
    trending,
    queries,
    clock,
    /** Creates a koo item as the content worker would, with its language. */
    putKoo: (id: string, lang: string) =>
      dynamo.call('PutItem', (doc) =>
        doc.send(
          new PutCommand({ TableName: tableName('content'), Item: { [A.contentId]: id, [A.lang]: lang } }),
        ),
      ),
    rawItem: async (id: string) =>
      (
        await dynamo.call('GetItem', (doc) =>
          doc.send(
            new GetCommand({
              TableName: tableName('content'),
              Key: { [A.contentId]: id },
              ConsistentRead: true,
            }),
          ),
        )
      ).Item,
    /** Deletes this run's Redis keys only (the stack's Redis is shared). */
    flushRedis: async () => {
      const keys = await redis.keys(`${config.TRENDING_KEY_PREFIX}*`);
      // In slices: a long run leaves more keys than one call's arguments can spread.
      for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
    },
    close: () => {
      redis.disconnect();
      dynamo.destroy();
    },
  };
}

export function testReactionProducer(): Promise<ReactionProducer> {
  return ReactionProducer.connect({
    brokers: stackEnv.kafkaBrokers,
    schemaRegistryUrl: stackEnv.schemaRegistryUrl,
    lingerMs: 20,
  });
}
