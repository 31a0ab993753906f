import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's metrics, named per Prometheus conventions (unit suffixes, _total for counters).
 * One registry per process; components record through these objects.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'koo_' });

export const metrics = {
  eventsConsumed: new Counter({
    name: 'koo_events_consumed_total',
    help: 'Kafka records handed to a worker, by worker and topic',
    labelNames: ['worker', 'topic'] as const,
    registers: [registry],
  }),
  eventsDeadLettered: new Counter({
    name: 'koo_events_dead_lettered_total',
    help: 'Records sent to the DLQ, by worker, topic and error code',
    labelNames: ['worker', 'topic', 'code'] as const,
    registers: [registry],
  }),
  eventsSkipped: new Counter({
    name: 'koo_events_skipped_total',
    help: 'Records a worker passed over on purpose, by reason (redrive_for_other: a DLQ redrive meant for another worker)',
    labelNames: ['worker', 'topic', 'reason'] as const,
    registers: [registry],
  }),
  batchDuration: new Histogram({
    name: 'koo_batch_duration_seconds',
    help: 'Time from a batch reaching the worker to its offsets being committed',
    labelNames: ['worker', 'topic'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  }),
  batchRetries: new Counter({
    name: 'koo_batch_retries_total',
    help: 'Batches run again after a retriable error',
    labelNames: ['worker', 'topic'] as const,
    registers: [registry],
  }),
  commitDuration: new Histogram({
    name: 'koo_offset_commit_duration_seconds',
    help: 'Offset commit latency',
    labelNames: ['worker'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  }),
  consumerLag: new Gauge({
    name: 'koo_consumer_lag_records',
    help: 'Records between the last processed offset and the partition end, as of the last batch',
    labelNames: ['worker', 'topic', 'partition'] as const,
    registers: [registry],
  }),
  dynamodbRequests: new Counter({
    name: 'koo_dynamodb_requests_total',
    help: 'DynamoDB API calls, by operation and outcome',
    labelNames: ['operation', 'outcome'] as const,
    registers: [registry],
  }),
  dynamodbCapacityUnits: new Counter({
    name: 'koo_dynamodb_capacity_units_total',
    help: 'DynamoDB capacity units consumed, by table, index ("" for the table) and kind (read, write)',
    labelNames: ['table', 'index', 'kind'] as const,
    registers: [registry],
  }),
  dynamodbThrottles: new Counter({
    name: 'koo_dynamodb_throttles_total',
    help: 'DynamoDB throttling answers and unprocessed items that were retried',
    labelNames: ['operation'] as const,
    registers: [registry],
  }),
  dynamodbRequestDuration: new Histogram({
    name: 'koo_dynamodb_request_duration_seconds',
    help: 'DynamoDB request latency',
    labelNames: ['operation'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  }),
  redisRequests: new Counter({
    name: 'koo_redis_requests_total',
    help: 'Redis round trips (a pipeline counts once), by operation',
    labelNames: ['operation'] as const,
    registers: [registry],
  }),
  lakeObjectsWritten: new Counter({
    name: 'koo_lake_objects_written_total',
    help: 'Parquet objects uploaded, by topic and why (cut: final, offsets committed; early: a held segment made visible)',
    labelNames: ['topic', 'reason'] as const,
    registers: [registry],
  }),
  lakeBytesWritten: new Counter({
    name: 'koo_lake_bytes_written_total',
    help: 'Parquet bytes uploaded, by topic',
    labelNames: ['topic'] as const,
    registers: [registry],
  }),
  lakeUploadDuration: new Histogram({
    name: 'koo_lake_upload_duration_seconds',
    help: 'Time to encode and upload one segment (all its hour files)',
    labelNames: ['topic'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  }),
  notifyEventsSkipped: new Counter({
    name: 'koo_notify_events_skipped_total',
    help: 'Events that notify nobody: oneself, or an unlike or unfollow with nothing to take back',
    registers: [registry],
  }),
  notifyStateRecoveries: new Counter({
    name: 'koo_notify_state_recoveries_total',
    help: 'Times the notify worker found Redis without its notification state and rebuilt it (ledger restore, rewind of every partition)',
    registers: [registry],
  }),
  notifyEventsParked: new Counter({
    name: 'koo_notify_events_parked_total',
    help: 'Reactions and replies that came before their koo, held in Redis until its create is seen (NOTIFY_PARK_TTL_MS)',
    registers: [registry],
  }),
  notifyJobsScheduled: new Counter({
    name: 'koo_notify_jobs_scheduled_total',
    help: 'Aggregate jobs handed to the queue (one whose id exists already is a no-op there)',
    registers: [registry],
  }),
  notifyQueueDepth: new Gauge({
    name: 'koo_notify_queue_jobs',
    help: 'Jobs of the notifications queue by state (waiting, delayed, active, failed, completed)',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
  }),
  notificationsProcessed: new Counter({
    name: 'koo_notifications_processed_total',
    help: 'Notification jobs the sender finished, by outcome (delivered, held for a digest, cancelled)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [registry],
  }),
  notificationAttemptsFailed: new Counter({
    name: 'koo_notification_attempts_failed_total',
    help: 'Delivery attempts the transport failed (retried with backoff until attempts run out)',
    registers: [registry],
  }),
  notificationDeliveryLatency: new Histogram({
    name: 'koo_notification_delivery_latency_seconds',
    help: 'From a job being due (its window ended) to its delivery',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  }),
  feedEntries: new Counter({
    name: 'koo_feed_entries_total',
    help: 'Feed entries written (put) or removed (delete), by what did it: fanout, retract, backfill, unfollow, trim',
    labelNames: ['operation', 'cause'] as const,
    registers: [registry],
  }),
  feedFanOutsRunning: new Gauge({
    name: 'koo_feed_fanouts_running',
    help: 'Fan-outs (push) and retractions (retract) in progress in this process',
    labelNames: ['kind'] as const,
    registers: [registry],
  }),
  feedFanOutPending: new Gauge({
    name: 'koo_feed_fanout_pending_followers',
    help: 'Followers the fan-outs and retractions in progress have still to reach (from the authors follower counts)',
    registers: [registry],
  }),
  feedFanOutDuration: new Histogram({
    name: 'koo_feed_fanout_duration_seconds',
    help: 'Time to push a koo to (or retract it from) every follower, resumed jobs included from where they resumed',
    labelNames: ['kind'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600],
    registers: [registry],
  }),
};
