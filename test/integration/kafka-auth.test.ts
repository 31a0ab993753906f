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
import { kafkaClientOptions, type KafkaClientOptions } from '../../shared/kafka/kafka-client.ts';
import { createLogger } from '../../shared/logging/logger.ts';
import { runId } from '../support/ids.ts';
import { groupCaughtUp, pinGroupAtEnd, testKafka } from '../support/kafka.ts';
import { reactionReadPath, reactionWorkloadOf } from '../support/reactions.ts';
import { stackEnv } from '../support/stack-env.ts';
import { waitFor } from '../support/wait-for.ts';
import { workerReplicas } from '../support/workers.ts';

const root = resolve(import.meta.dirname, '../..');
const topics = [topicNames.reactions];
const stack = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
  promisify(execFile)('bash', [resolve(root, 'infra/stack/stack.sh'), ...args], { cwd: root, env });

/**
 * One listener's two cases: a reactions worker process that signs in with `workerEnv()` counts
 * every reaction the producer (`producerOptions()`) sent; one whose secret the broker refuses
 * (`workerEnv(wrongSecret)`) exits 78 with one line matching `refusedLine`, the secret not in it.
 */
function listenerCases(
  name: string,
  setup: {
    prepare: () => Promise<void>;
    producerOptions: () => KafkaClientOptions;
    workerEnv: (secret?: string) => Record<string, string>;
    wrongSecret: string;
    refusedLine: RegExp;
    seed: number;
  },
) {
  const groupId = `test-kafka-auth-${name.split(' ')[0]!.toLowerCase()}-${runId}`;
  const read = reactionReadPath();
  const replicas = workerReplicas('reactions', { REACTIONS_GROUP_ID: groupId });
  let admin: Admin;
  let producer: ReactionProducer;

  beforeAll(async () => {
    await setup.prepare();
    admin = testKafka().admin();
    await admin.connect();
    await pinGroupAtEnd(admin, groupId, topics);
    producer = await ReactionProducer.connect(
      { ...setup.producerOptions(), schemaRegistryUrl: stackEnv.schemaRegistryUrl },
      createLogger('test', 'error'),
    );
  });

  afterAll(async () => {
    replicas.killAll();
    await producer?.close();
    await admin?.disconnect();
    read.dynamo.destroy();
  });

  it(`a reactions worker signed in by ${name} counts every reaction`, async () => {
    const { koos, workload } = reactionWorkloadOf(setup.seed, 20, 50, 0);
    await Promise.all([...workload.next(300), ...workload.drain()].map((e) => producer.emit(e)));
    await producer.flush();

    replicas.start(setup.workerEnv());
    await waitFor(
      `the ${name} worker to commit the end of koo.reactions`,
      () => groupCaughtUp(admin, groupId, topics),
      {
        timeoutMs: 60_000,
        intervalMs: 500,
      },
    );
    expect(await read.wrongCounters(koos, workload.expectedCounts())).toEqual([]);
  });

  it('a worker the broker refuses exits as a configuration error, naming the setting', async () => {
    const refused = replicas.start(setup.workerEnv(setup.wrongSecret));
    const status = await refused.exited;
    expect(status.code, refused.output()).toBe(78);
    expect(refused.output()).toMatch(setup.refusedLine);
    expect(refused.output()).not.toContain(setup.wrongSecret);
  });
}

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
  listenerCases('SCRAM', {
    prepare: async () => {
      await stack(['scram-user', user], { ...process.env, KAFKA_SASL_PASSWORD: password });
    },
    producerOptions: () =>
      kafkaClientOptions(loadConfig(commonConfigSchema, scram('scram-sha-256')), 'koo-tests-scram'),
    workerEnv: (secret) => scram('scram-sha-512', secret),
    wrongSecret: 'not-the-password',
    refusedLine: /authentication failed.*KAFKA_SASL_MECHANISM=scram-sha-512, KAFKA_SASL_USERNAME=/,
    seed: 17,
  });
});

// The stack's broker has MSK's IAM listener too (9098: TLS, SASL/OAUTHBEARER): its validator
// (infra/kafka/MskIamTokenValidator.java) checks each token's SigV4 signature against the access
// key the stack generated, as MSK checks it against IAM. The worker process signs its tokens with
// aws-msk-iam-sasl-signer-js from the default credential chain (here the environment); the
// producer uses the plaintext listener (this test process cannot trust the listener's CA: Node
// reads NODE_EXTRA_CA_CERTS at start only).
describe('a worker on the MSK IAM listener', () => {
  let key: Record<string, string> = {};
  listenerCases('MSK IAM', {
    prepare: async () => {
      const { stdout } = await stack(['msk-iam-key']);
      key = Object.fromEntries(
        stdout
          .trim()
          .split('\n')
          .map((l) => l.split(/=(.*)/s).slice(0, 2) as [string, string]),
      );
    },
    producerOptions: () => ({ brokers: stackEnv.kafkaBrokers, clientId: 'koo-tests-iam' }),
    workerEnv: (secret = key.AWS_SECRET_ACCESS_KEY!) => ({
      KAFKA_BROKERS: process.env.KAFKA_IAM_BROKERS ?? '127.0.0.1:9098',
      KAFKA_SSL: 'true',
      KAFKA_SASL_MECHANISM: 'aws-msk-iam',
      AWS_ACCESS_KEY_ID: key.AWS_ACCESS_KEY_ID!,
      AWS_SECRET_ACCESS_KEY: secret,
      NODE_EXTRA_CA_CERTS: key.KAFKA_IAM_CA!,
    }),
    wrongSecret: 'not-the-secret-key',
    refusedLine: /refused the token.*KAFKA_SASL_MECHANISM=aws-msk-iam/,
    seed: 23,
  });
});
