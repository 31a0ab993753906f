import { z } from 'zod';
import { env } from './load-config.ts';

export const kafkaSaslMechanisms = ['none', 'scram-sha-256', 'scram-sha-512', 'aws-msk-iam'] as const;

/**
 * Settings every worker shares. Defaults point at the local stack on loopback; production sets
 * the same variables to MSK, DynamoDB, S3 and ElastiCache.
 */
export const commonConfigSchema = z
  .object({
    KAFKA_BROKERS: env.list('127.0.0.1:9092'),
    KAFKA_CLIENT_ID: env.string('koo-pipeline'),
    KAFKA_SSL: env.bool(false),
    /**
     * How clients authenticate to the brokers: none; SASL/SCRAM with KAFKA_SASL_USERNAME and
     * KAFKA_SASL_PASSWORD (MSK's 9096 listener); or aws-msk-iam, SASL/OAUTHBEARER with a token
     * signed by the process's AWS credentials (IRSA on EKS; MSK's 9098 listener, TLS).
     */
    KAFKA_SASL_MECHANISM: z.enum(kafkaSaslMechanisms).default('none'),
    KAFKA_SASL_USERNAME: env.optionalString(),
    KAFKA_SASL_PASSWORD: env.optionalString(),
    SCHEMA_REGISTRY_URL: env.url('http://127.0.0.1:8081/apis/ccompat/v7'),
    AWS_REGION: env.string('ap-south-1'),
    /** Empty in production (the SDK finds the regional endpoint); unset means the local stack. */
    DYNAMODB_ENDPOINT: env.optionalUrl('http://127.0.0.1:8000'),
    S3_ENDPOINT: env.optionalUrl('http://127.0.0.1:9000'),
    TABLE_PREFIX: z.string().default(''),
    LAKE_BUCKET: env.string('koo-lake'),
    /** Bucket of koo bodies above the content worker's BODY_INLINE_MAX_BYTES (readers fetch them from it). */
    BODY_BUCKET: env.string('koo-bodies'),
    /** ElastiCache in transit encryption and AUTH: rediss://:<auth token>@<primary endpoint>:6379 (from the Secret). */
    REDIS_URL: env
      .url('redis://127.0.0.1:6379')
      .refine((v) => /^rediss?:\/\//.test(v), 'must be a redis:// or rediss:// (TLS) URL'),
    LOG_LEVEL: env.level(),
    /** Port of /healthz, /readyz and /metrics; 0 picks a free one (replicas on one host). */
    HTTP_PORT: env.int(0, 0, 65535),
    DLQ_TOPIC: env.string('koo.dlq'),
    /**
     * `otlp` turns traces on: OTLP over HTTP to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (or
     * OTEL_EXPORTER_OTLP_ENDPOINT), the OpenTelemetry SDK's own variables (OTEL_BSP_*, headers).
     */
    OTEL_TRACES_EXPORTER: z.enum(['none', 'otlp']).default('none'),
  })
  .superRefine(checkKafkaAuth);
export type CommonConfig = z.infer<typeof commonConfigSchema>;

/** The Kafka settings that must agree with each other; checked at start, each with the fix. */
function checkKafkaAuth(
  c: {
    KAFKA_SSL: boolean;
    KAFKA_SASL_MECHANISM: string;
    KAFKA_SASL_USERNAME?: string;
    KAFKA_SASL_PASSWORD?: string;
  },
  ctx: z.RefinementCtx,
): void {
  const problem = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  const scram = c.KAFKA_SASL_MECHANISM.startsWith('scram-');
  if (scram) {
    if (!c.KAFKA_SASL_USERNAME)
      problem('KAFKA_SASL_USERNAME', `is required with KAFKA_SASL_MECHANISM=${c.KAFKA_SASL_MECHANISM}`);
    if (!c.KAFKA_SASL_PASSWORD)
      problem('KAFKA_SASL_PASSWORD', `is required with KAFKA_SASL_MECHANISM=${c.KAFKA_SASL_MECHANISM}`);
    return;
  }
  // A user name beside IAM or no SASL is a half-done change; say so instead of ignoring it.
  for (const name of ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'] as const) {
    if (c[name])
      problem(
        name,
        `is only used with KAFKA_SASL_MECHANISM=scram-sha-256 or scram-sha-512 (it is ${c.KAFKA_SASL_MECHANISM})`,
      );
  }
  if (c.KAFKA_SASL_MECHANISM === 'aws-msk-iam' && !c.KAFKA_SSL) {
    problem(
      'KAFKA_SSL',
      'must be true with KAFKA_SASL_MECHANISM=aws-msk-iam (MSK serves IAM auth only over TLS, port 9098)',
    );
  }
}

/** Consumer settings, per worker (each worker's schema extends this). */
export const consumerConfigSchema = z.object({
  /** Events handed to the worker's logic at once; offsets are committed after each such batch. */
  BATCH_SIZE: env.int(500, 1, 100_000),
  /** Parallel DynamoDB requests a worker keeps in flight. */
  SINK_CONCURRENCY: env.int(16, 1, 1024),
  /** Give up a retriable sink error after this long and restart the batch (the partition is never skipped). */
  SINK_RETRY_MAX_MS: env.int(30_000, 100),
  SHUTDOWN_TIMEOUT_MS: env.int(9_000, 100, 60_000),
  SESSION_TIMEOUT_MS: env.int(30_000, 6_000),
  /**
   * How long the group waits for its members to rejoin a rebalance. A member's work, its sink
   * requests and their retries included, stops at the next heartbeat (SESSION_TIMEOUT_MS / 5)
   * after the rebalance began: keep this well above that. A member that dies while the group is
   * rebalancing holds the group up to this long (the coordinator waits for it to rejoin).
   */
  REBALANCE_TIMEOUT_MS: env.int(60_000, 6_000),
  FROM_BEGINNING: env.bool(true),
  /**
   * A fetch returns once this many bytes wait (or after FETCH_MAX_WAIT_MS): Kafka's
   * fetch.min.bytes. Above 1, a live stream comes in fewer, bigger batches, fetched for every
   * partition at once, at the price of up to FETCH_MAX_WAIT_MS of latency; a backlog is not slowed.
   */
  FETCH_MIN_BYTES: env.int(1, 1, 64 * 1024 * 1024),
  /** The longest a fetch waits for FETCH_MIN_BYTES (fetch.max.wait.ms). */
  FETCH_MAX_WAIT_MS: env.int(5000, 0, 60_000),
  /** Partitions of a fetch whose batches run side by side (each in order); more share more reads. */
  PARTITIONS_CONCURRENTLY: env.int(4, 1, 1024),
  /**
   * For a worker that joins a topic as a table (content: users): the longest a partition of its
   * other topics waits for this member's table partitions to catch up, so that a backlog's rows
   * are written before what joins them (Kafka Streams' max.task.idle.ms); 0 never waits.
   */
  TABLE_CATCH_UP_MAX_MS: env.int(5_000, 0, 600_000),
});
export type ConsumerConfig = z.infer<typeof consumerConfigSchema>;
