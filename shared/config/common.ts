import { z } from 'zod';
import { env } from './load-config.ts';

/**
 * Settings every worker shares. Defaults point at the local stack on loopback; production sets
 * the same variables to MSK, DynamoDB, S3 and ElastiCache.
 */
export const commonConfigSchema = z.object({
  KAFKA_BROKERS: env.list('127.0.0.1:9092'),
  KAFKA_CLIENT_ID: env.string('koo-pipeline'),
  KAFKA_SSL: env.bool(false),
  SCHEMA_REGISTRY_URL: env.url('http://127.0.0.1:8081/apis/ccompat/v7'),
  AWS_REGION: env.string('ap-south-1'),
  /** Empty in production (the SDK finds the regional endpoint); unset means the local stack. */
  DYNAMODB_ENDPOINT: env.optionalUrl('http://127.0.0.1:8000'),
  S3_ENDPOINT: env.optionalUrl('http://127.0.0.1:9000'),
  TABLE_PREFIX: z.string().default(''),
  LAKE_BUCKET: env.string('koo-lake'),
  /** Bucket of koo bodies above the content worker's BODY_INLINE_MAX_BYTES (readers fetch them from it). */
  BODY_BUCKET: env.string('koo-bodies'),
  REDIS_URL: env.url('redis://127.0.0.1:6379'),
  LOG_LEVEL: env.level(),
  /** Port of /healthz, /readyz and /metrics; 0 picks a free one (replicas on one host). */
  HTTP_PORT: env.int(0, 0, 65535),
  DLQ_TOPIC: env.string('koo.dlq'),
});
export type CommonConfig = z.infer<typeof commonConfigSchema>;

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
   * How long the group waits for its members to rejoin a rebalance. A member's work stops at
   * the next heartbeat (SESSION_TIMEOUT_MS / 5) after the rebalance began, plus the request in
   * flight (up to SINK_RETRY_MAX_MS): keep this above both, or the member is evicted meanwhile.
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
});
export type ConsumerConfig = z.infer<typeof consumerConfigSchema>;
