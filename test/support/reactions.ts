import type { Admin } from 'kafkajs';
import { afterAll, beforeAll } from 'vitest';
import { ReactionWorkload } from '../../apps/synthetic/reaction-workload.ts';
import { tableName } from '../../schemas/tables.ts';
import { reactionSchema, reactionTypeSymbols } from '../../schemas/reaction.ts';
import { contentAttr as A } from '../../schemas/koo-content.ts';
import { batchGet } from '../../shared/dynamodb/batch-writer.ts';
import { Dynamo } from '../../shared/dynamodb/dynamo-client.ts';
import { ReactionProducer } from '../../clients/producer/reaction-producer.ts';
import { createLogger } from '../../shared/logging/logger.ts';
import { countersOf, type Counters } from '../../workers/reactions/decide.ts';
import { ReactionQueries } from '../../workers/reactions/queries.ts';
import { newId } from './ids.ts';
import { pinGroupAtEnd, testKafka } from './kafka.ts';
import { stackEnv, testDynamo } from './stack-env.ts';

export function reactionReadPath(): {
  dynamo: Dynamo;
  queries: ReactionQueries;
  counters: (ids: readonly string[]) => Promise<Map<string, Counters>>;
  wrongCounters: (
    ids: readonly string[],
    expected: ReadonlyMap<string, Counters>,
  ) => Promise<{ id: string; expected: Counters; actual: Counters }[]>;
} {
  const dynamo = testDynamo();
  const queries = new ReactionQueries(dynamo, {
    reactionsTable: tableName('reactions'),
    contentTable: tableName('content'),
  });
  /** Counters of many koos at once (strongly consistent). */
  const counters = async (ids: readonly string[]) => {
    const items = await batchGet(
      dynamo,
      tableName('content'),
      ids.map((id) => ({ [A.contentId]: id })),
      { keyAttributes: [A.contentId], projection: [A.contentId, A.likes, A.shares, A.rekoos] },
    );
    return new Map(ids.map((id) => [id, countersOf(items.get(id))]));
  };
  /** The koos of `ids` whose counters differ from `expected` (a koo missing there: no reactions). */
  const wrongCounters = async (ids: readonly string[], expected: ReadonlyMap<string, Counters>) => {
    const actual = await counters(ids);
    return ids.flatMap((id) => {
      const e = expected.get(id) ?? countersOf(undefined);
      const a = actual.get(id)!;
      return a.likes === e.likes && a.shares === e.shares && a.rekoos === e.rekoos
        ? []
        : [{ id, expected: e, actual: a }];
    });
  };
  return { dynamo, queries, counters, wrongCounters };
}

export function testReactionProducer(): Promise<ReactionProducer> {
  return ReactionProducer.connect(
    { brokers: stackEnv.kafkaBrokers, schemaRegistryUrl: stackEnv.schemaRegistryUrl, clientId: 'koo-tests' },
    createLogger('test', 'error'),
  );
}

/**
 * The Kafka side of a reactions test, there for its tests and closed after them: an admin and a
 * reaction producer, the group pinned at the end of `topics` so that it processes only this run.
 */
export function reactionTestKafka(
  groupId: string,
  topics: string[],
): { admin: Admin; producer: ReactionProducer } {
  const kafka = {} as { admin: Admin; producer: ReactionProducer };
  beforeAll(async () => {
    kafka.admin = testKafka().admin();
    await kafka.admin.connect();
    kafka.producer = await testReactionProducer();
    await pinGroupAtEnd(kafka.admin, groupId, topics);
  });
  afterAll(async () => {
    await kafka.producer?.close();
    await kafka.admin?.disconnect();
  });
  return kafka;
}

/** `kooCount` koos and `userCount` users with fresh ids, and a seeded workload of reactions among them. */
export function reactionWorkloadOf(
  seed: number,
  kooCount: number,
  userCount: number,
  duplicateShare: number,
) {
  const koos = Array.from({ length: kooCount }, newId);
  const users = Array.from({ length: userCount }, newId);
  return { koos, users, workload: new ReactionWorkload({ seed, koos, users, duplicateShare }) };
}

type Field = { name: string; type: unknown; default?: unknown };
const v1 = reactionSchema as unknown as { fields: Field[] };
const withClient = {
  ...v1,
  fields: [...v1.fields, { name: 'client', type: ['null', 'string'], default: null }],
};

/** Writer schemas of the reaction event that other producers might use, for evolution and bad-input tests. */
export const reactionSchemas = {
  v1,
  /** Compatible: an added optional field with a default. */
  withClient,
  /** Not BACKWARD: a required field that old events lack. */
  withRequiredWeight: { ...withClient, fields: [...withClient.fields, { name: 'weight', type: 'int' }] },
  withoutContentId: { ...v1, fields: v1.fields.filter((f) => f.name !== 'content_id') },
  /** A reaction type this version does not know. */
  withLove: {
    ...v1,
    fields: v1.fields.map((f) =>
      f.name === 'type'
        ? { ...f, type: { type: 'enum', name: 'ReactionType', symbols: [...reactionTypeSymbols, 'love'] } }
        : f,
    ),
  },
};
