import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReactionProducer } from '../../clients/producer/reaction-producer.ts';
import { topicNames } from '../../schemas/topics.ts';
import { commonConfigSchema } from '../../shared/config/common.ts';
import { loadConfig } from '../../shared/config/load-config.ts';
import { kafkaClientOptions } from '../../shared/kafka/kafka-client.ts';
import { createLogger } from '../../shared/logging/logger.ts';
import { runId } from '../support/ids.ts';
import { groupCaughtUp, pinGroupAtEnd, testKafka } from '../support/kafka.ts';
import { reactionReadPath, reactionWorkloadOf } from '../support/reactions.ts';
import { stackEnv } from '../support/stack-env.ts';
import { waitFor } from '../support/wait-for.ts';
import { workerReplicas } from '../support/workers.ts';

const root = resolve(import.meta.dirname, '../..');
const groupId = `test-kafka-auth-${runId}`;
const topics = [topicNames.reactions];

// The stack's broker has a SASL/SCRAM listener on 9096 (MSK's SCRAM port) beside the plaintext
// one; the user is made for this run. The producer signs in with SHA-256, the worker with SHA-512.
describe('clients on a SASL/SCRAM listener', () => {
  const user = `koo-test-${runId}`;
  const password = randomBytes(18).toString('base64url');
  const scram = (mechanism: string, secret = password) => ({
    KAFKA_BROKERS: process.env.KAFKA_SASL_BROKERS ?? '127.0.0.1:9096',
    KAFKA_SASL_MECHANISM: mechanism,
    KAFKA_SASL_USERNAME: user,
    KAFKA_SASL_PASSWORD: secret,
  });
  const read = reactionReadPath();
  const replicas = workerReplicas('reactions', { REACTIONS_GROUP_ID: groupId });
  let admin: Admin;
  let producer: ReactionProducer;

  beforeAll(async () => {
    await promisify(execFile)('bash', [resolve(root, 'infra/stack/stack.sh'), 'scram-user', user], {
      cwd: root,
      env: { ...process.env, KAFKA_SASL_PASSWORD: password },
    });
    admin = testKafka().admin();
    await admin.connect();
    await pinGroupAtEnd(admin, groupId, topics);
    const config = loadConfig(commonConfigSchema, scram('scram-sha-256'));
    producer = await ReactionProducer.connect(
      { ...kafkaClientOptions(config, 'koo-tests-scram'), schemaRegistryUrl: stackEnv.schemaRegistryUrl },
      createLogger('test', 'error'),
    );
  });

  afterAll(async () => {
    replicas.killAll();
    await producer?.close();
    await admin?.disconnect();
    read.dynamo.destroy();
  });

  it('a producer and a reactions worker authenticated by SCRAM count every reaction', async () => {
    const { koos, workload } = reactionWorkloadOf(17, 20, 50, 0);
    await Promise.all([...workload.next(400), ...workload.drain()].map((e) => producer.emit(e)));
    await producer.flush();

    replicas.start(scram('scram-sha-512'));
    await waitFor(
      'the SCRAM worker to commit the end of koo.reactions',
      () => groupCaughtUp(admin, groupId, topics),
      {
        timeoutMs: 60_000,
        intervalMs: 500,
      },
    );
    expect(await read.wrongCounters(koos, workload.expectedCounts())).toEqual([]);
  });

  it('a worker whose password the broker refuses exits as a configuration error, naming the setting', async () => {
    const refused = replicas.start(scram('scram-sha-512', 'not-the-password'));
    const status = await refused.exited;
    expect(status.code, refused.output()).toBe(78);
    expect(refused.output()).toMatch(
      /authentication failed.*KAFKA_SASL_MECHANISM=scram-sha-512, KAFKA_SASL_USERNAME=/,
    );
    expect(refused.output()).not.toContain('not-the-password');
  });
});
