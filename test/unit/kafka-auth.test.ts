import { describe, expect, it } from 'vitest';
import { commonConfigSchema } from '../../shared/config/common.ts';
import { loadConfig } from '../../shared/config/load-config.ts';
import kafkajs, { type Mechanism } from 'kafkajs';
import {
  kafkaClientOptions,
  mskIamTokenProvider,
  oauthBearerMechanism,
} from '../../shared/kafka/kafka-client.ts';
import { loadReactionsConfig } from '../../workers/reactions/reactions-worker.ts';

const load = (env: Record<string, string>) => loadConfig(commonConfigSchema, env);

describe('Kafka authentication settings', () => {
  it('default to no SASL and no TLS (the local stack)', () => {
    const options = kafkaClientOptions(load({}), 'c');
    expect(options).toMatchObject({ brokers: ['127.0.0.1:9092'], ssl: false, sasl: undefined });
  });

  it('build SCRAM options from the user name and password', () => {
    const config = load({
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: 'p',
    });
    expect(kafkaClientOptions(config, 'c').sasl).toEqual({
      mechanism: 'scram-sha-512',
      username: 'u',
      password: 'p',
    });
  });

  it('are checked together at start, in every worker, each problem with its fix', () => {
    expect(() =>
      loadReactionsConfig({ KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'u' }),
    ).toThrow(/KAFKA_SASL_PASSWORD \(unset\): is required with KAFKA_SASL_MECHANISM=scram-sha-256/);
    expect(() => load({ KAFKA_SASL_MECHANISM: 'aws-msk-iam' })).toThrow(
      /KAFKA_SSL \(unset\): must be true with KAFKA_SASL_MECHANISM=aws-msk-iam/,
    );
    expect(() => load({ KAFKA_SASL_USERNAME: 'u' })).toThrow(
      /KAFKA_SASL_USERNAME \("u"\): is only used with KAFKA_SASL_MECHANISM=scram-sha-256 or scram-sha-512 \(it is none\)/,
    );
    expect(() => load({ KAFKA_SASL_MECHANISM: 'plain' })).toThrow(/KAFKA_SASL_MECHANISM \("plain"\)/);
  });

  it('never print a secret in a configuration error', () => {
    const attempt = () =>
      load({
        KAFKA_SASL_PASSWORD: 'hunter2-secret',
        REDIS_URL: 'rediss://:auth-token-value@cache.example:6379',
        BATCH_SIZE: 'x',
        DYNAMODB_ENDPOINT: 'not a url',
      });
    expect(attempt).toThrow(/KAFKA_SASL_PASSWORD \(set, not shown\)/);
    let message = '';
    try {
      loadReactionsConfig({ REDIS_URL: 'http://:auth-token-value@cache.example:6379' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(
      /REDIS_URL \("http:\/\/:\*\*\*@cache.example:6379"\): must be a redis:\/\/ or rediss:\/\/ \(TLS\) URL/,
    );
    expect(message).not.toContain('auth-token-value');
  });

  it('accept rediss:// with an AUTH token (ElastiCache in-transit encryption)', () => {
    expect(load({ REDIS_URL: 'rediss://:token@cache.example:6379' }).REDIS_URL).toBe(
      'rediss://:token@cache.example:6379',
    );
  });
});

describe('MSK IAM tokens', () => {
  it('are SigV4-presigned kafka-cluster:Connect requests for the region, signed with the process credentials', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLEKOO',
      AWS_SECRET_ACCESS_KEY: 'not-a-real-secret',
    });
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    try {
      const config = load({
        KAFKA_SASL_MECHANISM: 'aws-msk-iam',
        KAFKA_SSL: 'true',
        AWS_REGION: 'ap-south-1',
      });
      const sasl = kafkaClientOptions(config, 'c').sasl as Mechanism;
      expect(sasl.mechanism).toBe('oauthbearer');
      const { message } = await authenticate(sasl);
      const value = message.split('auth=Bearer ')[1]!.split('\u0001')[0]!;
      const url = new URL(Buffer.from(value, 'base64url').toString());
      expect(url.host).toBe('kafka.ap-south-1.amazonaws.com');
      expect(url.searchParams.get('Action')).toBe('kafka-cluster:Connect');
      expect(url.searchParams.get('X-Amz-Credential')).toMatch(
        /^AKIDEXAMPLEKOO\/\d{8}\/ap-south-1\/kafka-cluster\/aws4_request$/,
      );
      expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
      expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      process.env = saved;
    }
  });

  it('are signed once and reused until a minute before they expire', async () => {
    let now = 0;
    let signed = 0;
    const provider = mskIamTokenProvider(
      'ap-south-1',
      async () => ({ token: `t${++signed}`, expiryTime: now + 900_000 }),
      () => now,
    );
    expect(await provider()).toEqual({ value: 't1' });
    now = 839_000;
    expect(await provider()).toEqual({ value: 't1' });
    now = 840_000;
    expect(await provider()).toEqual({ value: 't2' });
    expect(signed).toBe(2);
  });
});

/** Runs a mechanism's authentication against a broker that answers `answer` (empty: accepted). */
async function authenticate(mechanism: Mechanism, answer = Buffer.alloc(0)) {
  let message = '';
  await mechanism
    .authenticationProvider({
      host: 'b-1.msk.example',
      port: 9098,
      logger: undefined as never,
      saslAuthenticate: async ({ request, response }) => {
        // Both ways framed as Kafka's BYTES: an int32 length, then the bytes.
        const sent = (await request.encode()) as Buffer;
        expect(sent.readInt32BE(0)).toBe(sent.length - 4);
        message = sent.subarray(4).toString('utf8');
        const framed = Buffer.concat([Buffer.alloc(4), answer]);
        framed.writeInt32BE(answer.length);
        return response?.parse(await response.decode(framed));
      },
    })
    .authenticate();
  return { message };
}

describe('SASL/OAUTHBEARER', () => {
  const mechanism = oauthBearerMechanism(async () => ({ value: 'the-token' }));

  it('sends the token as RFC 7628 says', async () => {
    expect((await authenticate(mechanism)).message).toBe('n,,\u0001auth=Bearer the-token\u0001\u0001');
  });

  it('fails as kafkajs fails a refused SASL login when the broker answers with an error challenge', async () => {
    const refused = authenticate(mechanism, Buffer.from('{"status":"invalid_token"}'));
    await expect(refused).rejects.toBeInstanceOf(kafkajs.KafkaJSSASLAuthenticationError);
    await expect(refused).rejects.toThrow(
      /b-1.msk.example:9098 refused the token: \{"status":"invalid_token"\}/,
    );
  });
});
