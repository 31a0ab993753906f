import { generateAuthToken } from 'aws-msk-iam-sasl-signer-js';
import kafkajs, { Kafka, logLevel, type LogEntry, type Mechanism, type SASLOptions } from 'kafkajs';
import type { CommonConfig } from '../config/common.ts';
import type { Logger } from '../logging/logger.ts';

/** The settings that say where the brokers are and how to authenticate (commonConfigSchema's). */
export type KafkaConnectionConfig = Pick<
  CommonConfig,
  | 'KAFKA_BROKERS'
  | 'KAFKA_SSL'
  | 'KAFKA_SASL_MECHANISM'
  | 'KAFKA_SASL_USERNAME'
  | 'KAFKA_SASL_PASSWORD'
  | 'AWS_REGION'
>;

export type MskTokenSigner = (options: { region: string }) => Promise<{ token: string; expiryTime: number }>;

/**
 * SASL/OAUTHBEARER tokens for MSK IAM: a SigV4-presigned kafka-cluster:Connect request signed with
 * the default credential chain (IRSA's web identity on EKS). kafkajs asks on every connection; a
 * token is reused until a minute before it expires (15 minutes), so a reconnect storm signs once.
 */
export function mskIamTokenProvider(
  region: string,
  sign: MskTokenSigner = generateAuthToken,
  now: () => number = Date.now,
): () => Promise<{ value: string }> {
  let current: { token: string; expiryTime: number } | undefined;
  return async () => {
    if (!current || current.expiryTime - 60_000 <= now()) current = await sign({ region });
    return { value: current.token };
  };
}

/** What kafkajs takes as its sasl option: a built-in mechanism's options, or a mechanism of our own. */
export type KafkaSasl = SASLOptions | Mechanism;

const SOH = '\u0001';
// kafkajs' typings give this error no constructor arguments; its class takes the message.
const SaslAuthenticationError = kafkajs.KafkaJSSASLAuthenticationError as unknown as new (
  message: string,
) => Error;

// Kafka's BYTES: an int32 length (-1: null), then the bytes; kafkajs hands mechanisms both framed.
function kafkaBytes(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}
function fromKafkaBytes(framed: Buffer): Buffer {
  const length = framed.length < 4 ? -1 : framed.readInt32BE(0);
  return length <= 0 ? Buffer.alloc(0) : framed.subarray(4, 4 + length);
}

/**
 * SASL/OAUTHBEARER (RFC 7628) that reads the broker's answer. A broker that refuses a token does
 * not fail the SaslAuthenticate request: it answers with an error challenge
 * (`{"status":"invalid_token"}`), then closes the connection. kafkajs' built-in OAUTHBEARER ignores
 * the answer, so a refused token surfaced as "Closed connection" and retries; here it is
 * kafkajs' SASL authentication error, which the worker reports as the configuration error it is.
 */
export function oauthBearerMechanism(tokenProvider: () => Promise<{ value: string }>): Mechanism {
  return {
    mechanism: 'oauthbearer',
    authenticationProvider: ({ host, port, saslAuthenticate }) => ({
      authenticate: async () => {
        const { value } = await tokenProvider();
        await saslAuthenticate({
          request: { encode: () => kafkaBytes(Buffer.from(`n,,${SOH}auth=Bearer ${value}${SOH}${SOH}`)) },
          response: {
            decode: (bytes: Buffer) => fromKafkaBytes(bytes),
            parse: (answer: Buffer) => {
              if (answer && answer.length > 0)
                throw new SaslAuthenticationError(
                  `SASL OAUTHBEARER authentication failed: ${host}:${port} refused the token: ${answer.toString('utf8')}`,
                );
              return true;
            },
          },
        });
      },
    }),
  };
}

/** kafkajs' sasl option for the configured mechanism (the config's own check ran at load). */
function kafkaSasl(config: KafkaConnectionConfig): KafkaSasl | undefined {
  switch (config.KAFKA_SASL_MECHANISM) {
    case 'none':
      return undefined;
    case 'scram-sha-256':
    case 'scram-sha-512':
      return {
        mechanism: config.KAFKA_SASL_MECHANISM,
        username: config.KAFKA_SASL_USERNAME ?? '',
        password: config.KAFKA_SASL_PASSWORD ?? '',
      } as SASLOptions;
    case 'aws-msk-iam':
      return oauthBearerMechanism(mskIamTokenProvider(config.AWS_REGION));
  }
}

// kafkajs 2.2.4 hands setTimeout a negative delay (tulios/kafkajs#1751, unreleased fix), which
// Node 24 reports on every connection; the delay is clamped to 1 ms, so the warning is noise.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
  if (type === 'TimeoutNegativeWarning') return;
  (emitWarning as (...a: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

const levels: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  ssl?: boolean;
  sasl?: KafkaSasl;
}

/** The client options of a component configured by the environment (every worker, app and tool). */
export function kafkaClientOptions(config: KafkaConnectionConfig, clientId: string): KafkaClientOptions {
  return { brokers: config.KAFKA_BROKERS, clientId, ssl: config.KAFKA_SSL, sasl: kafkaSasl(config) };
}

/** A kafkajs client whose log lines go through the component's pino logger. */
export function createKafka(options: KafkaClientOptions, logger: Logger): Kafka {
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    ssl: options.ssl ?? false,
    sasl: options.sasl,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ namespace, level, log }: LogEntry) => {
        const { message, ...extra } = log;
        // The connection layer logs every error response (routine during a rebalance) as an
        // error; the layers above log the ones that matter.
        const name =
          namespace === 'Connection' && level === logLevel.ERROR ? 'debug' : (levels[level] ?? 'info');
        logger[name]({ kafkajs: namespace, ...extra }, message);
      },
    retry: { initialRetryTime: 200, retries: 8 },
  });
}
