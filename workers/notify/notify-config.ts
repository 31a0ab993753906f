import { z } from 'zod';
import { env, loadConfig } from '../../shared/config/load-config.ts';
import { workerConfigSchema } from '../../shared/runtime/run-worker.ts';

/** The queue and its jobs' options: what the notify worker, the sender and the CLI must agree on. */
export const notificationQueueConfigSchema = z.object({
  NOTIFY_QUEUE: env.string('notifications'),
  /** Prefix of every Redis key of the queue and of the aggregates (BullMQ's `prefix`); one per deployment or test run. */
  NOTIFY_PREFIX: env.string('bull'),
  /** Delivery attempts per notification before it stays failed (with its reason). */
  NOTIFY_ATTEMPTS: env.int(8, 1, 100),
  /** First retry delay; each next one doubles (BullMQ exponential backoff). */
  NOTIFY_BACKOFF_MS: env.int(1_000, 1),
  /** Actors a notification names (the rest are counted); only their handles are looked up. */
  NOTIFY_NAMED_ACTORS: env.int(2, 1, 100),
  /**
   * How long completed jobs, aggregates and delivery snapshots are kept. A replay of events older
   * than this notifies again, so keep it above the source topics' retention.
   */
  NOTIFY_KEEP_DAYS: env.number(35, 0.001),
  /**
   * When Redis comes back without the notification state, every partition of the notify worker
   * replays the log from this long ago, and the ledger is read twice as far back. Keep it above the
   * longest time from an event to its notification's end: the eminent window, plus the recipient
   * period (a held job waits for its digest), plus the retry backoff; the park TTL too.
   */
  NOTIFY_REWIND_MS: env.int(7_200_000, 1_000),
});
export type NotificationQueueConfig = z.infer<typeof notificationQueueConfigSchema>;

export const notifyConfigSchema = workerConfigSchema
  .safeExtend(notificationQueueConfigSchema.shape)
  .safeExtend({
    NOTIFY_GROUP_ID: env.string('koo-notify'),
    /** Events for one recipient, koo and kind within this window become one notification. */
    NOTIFY_WINDOW_MS: env.int(60_000, 1),
    /** The window for eminent profiles, whose koos draw many more reactions. */
    NOTIFY_EMINENT_WINDOW_MS: env.int(600_000, 1),
    /**
     * How long a reaction or reply whose koo no view has yet waits for the koo's create on the
     * koos topic (and how long a seen create is remembered for them); past it, it notifies nobody.
     */
    NOTIFY_PARK_TTL_MS: env.int(3_600_000, 1_000),
  });
export type NotifyConfig = z.infer<typeof notifyConfigSchema>;

export function loadNotifyConfig(environment: NodeJS.ProcessEnv): NotifyConfig {
  return loadConfig(notifyConfigSchema, environment);
}
