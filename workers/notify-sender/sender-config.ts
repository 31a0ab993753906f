import { z } from 'zod';
import { commonConfigSchema } from '../../shared/config/common.ts';
import { env, loadConfig } from '../../shared/config/load-config.ts';
import { notificationQueueConfigSchema } from '../notify/notify-config.ts';

export const senderConfigSchema = commonConfigSchema
  .safeExtend(notificationQueueConfigSchema.shape)
  .safeExtend({
    /** Where notifications are POSTed; unset or empty: they are appended to NOTIFY_OUTBOX_FILE instead. */
    NOTIFY_WEBHOOK_URL: env.optionalUrl(''),
    /** Where deliveries go when no webhook is set: one JSON line each. */
    NOTIFY_OUTBOX_FILE: env.string('.stack/notifications.jsonl'),
    NOTIFY_WEBHOOK_TIMEOUT_MS: env.int(5_000, 100),
    /** Failed deliveries are logged one in this interval, with a count of the rest. */
    NOTIFY_FAILURE_LOG_INTERVAL_MS: env.int(60_000, 0),
    /** Jobs delivered at the same time by one sender process. */
    NOTIFY_SENDER_CONCURRENCY: env.int(16, 1, 1000),
    /** Global rate limit, over every sender process: at most NOTIFY_RATE_MAX jobs per NOTIFY_RATE_PERIOD_MS. */
    NOTIFY_RATE_MAX: env.int(1_000, 1),
    NOTIFY_RATE_PERIOD_MS: env.int(1_000, 1),
    /** Per recipient: at most this many notifications per period; the rest merge into one digest at the next period. */
    NOTIFY_RECIPIENT_LIMIT: env.int(20, 1),
    NOTIFY_RECIPIENT_PERIOD_MS: env.int(3_600_000, 1),
    /** A crashed sender's jobs go back to waiting after this long (BullMQ lock duration and stalled-job check). */
    NOTIFY_LOCK_MS: env.int(30_000, 1_000),
    /**
     * How often a job may go back to waiting because its sender lost the lock (killed, or its
     * event loop held past NOTIFY_LOCK_MS on a busy host) before it fails for good. Delivery is
     * idempotent (the job id is the Idempotency-Key, the ledger records it), so a stall is run
     * again, not counted as a failed delivery; BullMQ's default of 1 failed a follow notification
     * in the scale test on two busy cores ("job stalled more than allowable limit").
     */
    NOTIFY_MAX_STALLS: env.int(10, 1, 1000),
    /** How often the queue depth gauges are refreshed. */
    NOTIFY_DEPTH_INTERVAL_MS: env.int(5_000, 100),
    SHUTDOWN_TIMEOUT_MS: env.int(9_000, 100, 60_000),
  });
export type SenderConfig = z.infer<typeof senderConfigSchema>;

export function loadSenderConfig(environment: NodeJS.ProcessEnv): SenderConfig {
  return loadConfig(senderConfigSchema, environment);
}
