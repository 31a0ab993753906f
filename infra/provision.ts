/**
 * Creates what the pipeline needs and nothing creates by itself: Kafka topics (auto-creation is
 * off), event schemas in the registry, DynamoDB tables with their GSIs and TTL, the lake bucket. Idempotent: run by
 * `npm run stack -- up`, and by ops against a new environment (`npm run provision`).
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
  type AttributeDefinition,
} from '@aws-sdk/client-dynamodb';
import kafkajs from 'kafkajs';
import { CreateBucketCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import { COMPATIBILITY, SchemaType } from '@kafkajs/confluent-schema-registry';
import { createSchemaRegistry } from '../shared/avro/schema-registry-client.ts';
import { reactionSchema, reactionSubject } from '../schemas/reaction.ts';
import { commonConfigSchema, type CommonConfig } from '../shared/config/common.ts';
import { loadConfig } from '../shared/config/load-config.ts';
import { createKafka, kafkaClientOptions } from '../shared/kafka/kafka-client.ts';
import { createLogger, type Logger } from '../shared/logging/logger.ts';
import { localCredentials } from '../shared/aws/credentials.ts';
import { s3For } from '../shared/aws/s3-client.ts';
import { projectionOf, tables, type TableDefinition } from '../schemas/tables.ts';
import { topics } from '../schemas/topics.ts';
import { sleep } from '../shared/runtime/backoff.ts';

// kafkajs is CommonJS; Node's detection of its named exports misses this one.
const { ConfigResourceTypes } = kafkajs;

/**
 * Creates the missing topics and brings the configs of existing ones to their definition (a
 * topic created before a change of `schemas/topics.ts`, e.g. the CDC topics made compacted).
 */
export async function provisionTopics(config: CommonConfig, logger: Logger): Promise<void> {
  const admin = createKafka(kafkaClientOptions(config, 'koo-provision'), logger).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.name));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.name,
          numPartitions: t.partitions,
          replicationFactor: -1, // the broker's default: 1 on the local single node, 3 on MSK
          configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })),
        })),
      });
    }
    const present = topics.filter((t) => existing.has(t.name));
    const described =
      present.length === 0
        ? []
        : (
            await admin.describeConfigs({
              includeSynonyms: false,
              resources: present.map((t) => ({
                type: ConfigResourceTypes.TOPIC,
                name: t.name,
                configNames: Object.keys(t.config),
              })),
            })
          ).resources;
    const stale = present.filter((t) => {
      const entries = described.find((r) => r.resourceName === t.name)?.configEntries ?? [];
      return Object.entries(t.config).some(
        ([k, v]) => entries.find((e) => e.configName === k)?.configValue !== v,
      );
    });
    if (stale.length > 0) {
      // alterConfigs sets the topic's whole dynamic config: the definition is all of it.
      await admin.alterConfigs({
        validateOnly: false,
        resources: stale.map((t) => ({
          type: ConfigResourceTypes.TOPIC,
          name: t.name,
          configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })),
        })),
      });
    }
    logger.info(
      {
        created: missing.map((t) => t.name),
        reconfigured: stale.map((t) => t.name),
        existing: topics.length - missing.length,
      },
      'topics ready',
    );
  } finally {
    await admin.disconnect();
  }
}

/** Event schemas and their subjects (TopicNameStrategy: `<topic>-value`). */
const eventSchemas = [{ subject: reactionSubject, schema: reactionSchema }];

/**
 * Every version of an event schema must be readable by every reader schema, older and newer:
 * workers read with the schema they were built with, while producers in other languages move on
 * their own. BACKWARD alone would let a producer delete a field the workers need (every record of
 * it dead-lettered); FULL_TRANSITIVE lets a schema only add or remove fields that have a default.
 */
export const eventSchemaCompatibility = COMPATIBILITY.FULL_TRANSITIVE;

/**
 * Sets each event subject's compatibility level (also on a subject made with another), then
 * registers its schema. Registering a schema the subject already has returns its id, so this is
 * idempotent; an incompatible change fails with the registry's reason.
 */
export async function provisionSchemas(config: CommonConfig, logger: Logger): Promise<void> {
  const registry = createSchemaRegistry(config.SCHEMA_REGISTRY_URL);
  for (const { subject, schema } of eventSchemas) {
    const res = await fetch(`${config.SCHEMA_REGISTRY_URL}/config/${encodeURIComponent(subject)}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility: eventSchemaCompatibility }),
    });
    if (!res.ok)
      throw new Error(
        `registry: setting ${subject}'s compatibility failed: ${res.status} ${await res.text()}`,
      );
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
      { subject, compatibility: eventSchemaCompatibility },
    );
    logger.info({ subject, id }, 'schema ready');
  }
}

function createTableInput(def: TableDefinition, name: string) {
  const attributes = new Map<string, AttributeDefinition>();
  const add = (k: { name: string; type: 'S' | 'N' }) =>
    attributes.set(k.name, { AttributeName: k.name, AttributeType: k.type });
  add(def.partitionKey);
  if (def.sortKey) add(def.sortKey);
  for (const index of def.indexes) {
    add(index.partitionKey);
    if (index.sortKey) add(index.sortKey);
  }
  return {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [...attributes.values()],
    KeySchema: [
      { AttributeName: def.partitionKey.name, KeyType: 'HASH' as const },
      ...(def.sortKey ? [{ AttributeName: def.sortKey.name, KeyType: 'RANGE' as const }] : []),
    ],
    ...(def.indexes.length > 0
      ? {
          GlobalSecondaryIndexes: def.indexes.map((index) => ({
            IndexName: index.name,
            KeySchema: [
              { AttributeName: index.partitionKey.name, KeyType: 'HASH' as const },
              ...(index.sortKey ? [{ AttributeName: index.sortKey.name, KeyType: 'RANGE' as const }] : []),
            ],
            Projection: projectionOf(index),
          })),
        }
      : {}),
  };
}

/**
 * A GSI whose projection is not what schemas/tables.ts says (a table made before a change of it)
 * is dropped and made again: DynamoDB cannot change a projection in place. Its readers hydrate
 * from the base table, so while it rebuilds they find fewer koos, never wrong ones.
 */
async function alignIndexProjections(
  client: DynamoDBClient,
  def: TableDefinition,
  name: string,
  logger: Logger,
): Promise<void> {
  const describe = async () =>
    (await client.send(new DescribeTableCommand({ TableName: name }))).Table?.GlobalSecondaryIndexes ?? [];
  const same = (a: { ProjectionType?: string; NonKeyAttributes?: string[] } | undefined, b: typeof a) =>
    a?.ProjectionType === b?.ProjectionType &&
    [...(a?.NonKeyAttributes ?? [])].sort().join() === [...(b?.NonKeyAttributes ?? [])].sort().join();
  const input = createTableInput(def, name);
  const described = await describe();
  for (const index of def.indexes) {
    const existing = described.find((i) => i.IndexName === index.name);
    if (existing && same(existing.Projection, projectionOf(index))) continue;
    if (existing) {
      logger.warn(
        { table: name, index: index.name, from: existing.Projection, to: projectionOf(index) },
        'rebuilding index with its new projection',
      );
      await client.send(
        new UpdateTableCommand({
          TableName: name,
          GlobalSecondaryIndexUpdates: [{ Delete: { IndexName: index.name } }],
        }),
      );
      await until(async () => !(await describe()).some((i) => i.IndexName === index.name));
    }
    const create = input.GlobalSecondaryIndexes!.find((i) => i.IndexName === index.name)!;
    await client.send(
      new UpdateTableCommand({
        TableName: name,
        AttributeDefinitions: input.AttributeDefinitions,
        GlobalSecondaryIndexUpdates: [{ Create: create }],
      }),
    );
    await until(async () =>
      (await describe()).some((i) => i.IndexName === index.name && i.IndexStatus === 'ACTIVE'),
    );
  }
}

async function until(done: () => Promise<boolean>, timeoutMs = 600_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await done()); await sleep(500)) {
    if (Date.now() > deadline) throw new Error('provision: an index did not become ready in time');
  }
}

export async function provisionTables(config: CommonConfig, logger: Logger): Promise<void> {
  const client = new DynamoDBClient({
    region: config.AWS_REGION,
    endpoint: config.DYNAMODB_ENDPOINT,
    ...localCredentials(config.DYNAMODB_ENDPOINT),
  });
  try {
    for (const def of Object.values(tables) as TableDefinition[]) {
      const name = `${config.TABLE_PREFIX}${def.name}`;
      let created = false;
      try {
        await client.send(new CreateTableCommand(createTableInput(def, name)));
        created = true;
      } catch (err) {
        if (!(err instanceof ResourceInUseException)) throw err;
      }
      await waitUntilTableExists({ client, maxWaitTime: 120 }, { TableName: name });
      if (created && def.ttlAttribute) {
        await client.send(
          new UpdateTimeToLiveCommand({
            TableName: name,
            TimeToLiveSpecification: { Enabled: true, AttributeName: def.ttlAttribute },
          }),
        );
      }
      await alignIndexProjections(client, def, name, logger);
      const described = await client.send(new DescribeTableCommand({ TableName: name }));
      logger.info(
        { table: name, created, indexes: described.Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName) },
        'table ready',
      );
    }
  } finally {
    client.destroy();
  }
}

/** The lake's bucket and the one of koo bodies too large for an item. */
export async function provisionBuckets(config: CommonConfig, logger: Logger): Promise<void> {
  const s3 = s3For(config);
  try {
    for (const bucket of [config.LAKE_BUCKET, config.BODY_BUCKET]) {
      try {
        await s3.send(new HeadBucketCommand({ Bucket: bucket }));
      } catch {
        await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      }
      logger.info({ bucket }, 'bucket ready');
    }
  } finally {
    s3.destroy();
  }
}

if (import.meta.main) {
  const config = loadConfig(commonConfigSchema);
  const logger = createLogger('provision', config.LOG_LEVEL);
  await provisionTopics(config, logger);
  await provisionSchemas(config, logger);
  await provisionTables(config, logger);
  await provisionBuckets(config, logger);
}
