import { Worker, type Job } from 'bullmq';
import type { Logger } from '../../shared/logging/logger.ts';
import { metrics } from '../../shared/metrics/metrics.ts';
import { contextOfCarrier, inSpan, SpanKind } from '../../shared/telemetry/tracing.ts';
import { periodOf } from '../notify/decide.ts';
import { aggregateNotification, digestNotification, type Notification } from '../notify/message.ts';
import {
  aggregateJobId,
  type AggregateJobData,
  type AggregateView,
  type DigestJobData,
  type NotificationJobData,
  type NotificationStore,
} from '../notify/notification-store.ts';
import type { LedgerRecorder } from './ledger-recorder.ts';
import type { SenderConfig } from './sender-config.ts';
import type { NotificationTransport } from './transport.ts';

/** `already_done`: finished before Redis lost the state (its seal came back from the ledger); not sent again. */
export type Outcome = 'delivered' | 'held' | 'cancelled' | 'already_done';

const isDigest = (job: Job<NotificationJobData>): job is Job<DigestJobData> => job.name === 'digest';

/**
 * The sender: a BullMQ Worker on the notifications queue. A job is sealed on its first run (its
 * actors and its rate-limit decision frozen in Redis), so every attempt sends the same content
 * under the same idempotency key. Over the recipient's limit it is held for the next period's
 * digest instead of delivered. Retries with exponential backoff come from the job's options;
 * a job out of attempts stays failed with its reason. The global rate limit is BullMQ's limiter,
 * shared by every sender process of the queue.
 */
export class NotificationSender {
  private readonly worker: Worker<NotificationJobData, Outcome>;
  private readonly store: NotificationStore;
  private readonly ledger: LedgerRecorder;
  private readonly transport: NotificationTransport;
  private readonly config: SenderConfig;
  private readonly logger: Logger;
  private readonly depthTimer: NodeJS.Timeout;
  private readonly failureLog: FailureLog;
  private closed: Promise<void> | undefined;

  constructor(
    store: NotificationStore,
    ledger: LedgerRecorder,
    transport: NotificationTransport,
    config: SenderConfig,
    logger: Logger,
  ) {
    this.store = store;
    this.ledger = ledger;
    this.transport = transport;
    this.config = config;
    this.logger = logger;
    this.failureLog = new FailureLog(logger, config.NOTIFY_FAILURE_LOG_INTERVAL_MS);
    this.worker = new Worker<NotificationJobData, Outcome>(config.NOTIFY_QUEUE, (job) => this.traced(job), {
      connection: store.redis,
      prefix: config.NOTIFY_PREFIX,
      concurrency: config.NOTIFY_SENDER_CONCURRENCY,
      limiter: { max: config.NOTIFY_RATE_MAX, duration: config.NOTIFY_RATE_PERIOD_MS },
      lockDuration: config.NOTIFY_LOCK_MS,
      stalledInterval: config.NOTIFY_LOCK_MS,
      maxStalledCount: config.NOTIFY_MAX_STALLS,
    });
    this.worker.on('failed', (job, err) => {
      metrics.notificationAttemptsFailed.inc();
      const final = job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1);
      this.failureLog.record(
        final ? 'error' : 'warn',
        { jobId: job?.id, attempt: job?.attemptsMade, err },
        final,
      );
    });
    this.worker.on('error', (err) => this.logger.error({ err }, 'sender error'));
    this.depthTimer = setInterval(() => {
      this.failureLog.flushIfDue();
      void this.refreshDepth();
    }, config.NOTIFY_DEPTH_INTERVAL_MS);
  }

  isRunning(): boolean {
    return this.worker.isRunning();
  }

  /** Each attempt in a span that continues the trace of the event that queued the job. */
  private traced(job: Job<NotificationJobData, Outcome>): Promise<Outcome> {
    const carrier = isDigest(job) ? undefined : (job.data as AggregateJobData).trace;
    return inSpan(
      `${this.config.NOTIFY_QUEUE} deliver`,
      {
        kind: SpanKind.CONSUMER,
        parent: contextOfCarrier(carrier),
        attributes: {
          'koo.job.id': job.id ?? '',
          'koo.job.name': job.name,
          'koo.job.attempt': job.attemptsMade + 1,
        },
      },
      async (span) => {
        const outcome = await this.process(job);
        span.setAttribute('koo.notification.outcome', outcome);
        return outcome;
      },
    );
  }

  private async process(job: Job<NotificationJobData, Outcome>): Promise<Outcome> {
    const now = Date.now();
    const sealed = isDigest(job)
      ? await this.sealDigest(job)
      : await this.sealAggregate(job as Job<AggregateJobData>, now);
    if (sealed.outcome === 'held') {
      await this.store.scheduleDigest(
        job.data.recipient,
        sealed.digestPeriod!,
        this.config.NOTIFY_RECIPIENT_PERIOD_MS,
        now,
      );
    } else if (sealed.outcome === 'delivered') {
      await this.transport.deliver(sealed.notification!, job.id!);
      metrics.notificationDeliveryLatency.observe(
        Math.max(0, Date.now() - (job.timestamp + (job.delay ?? 0))) / 1000,
      );
    }
    if (sealed.outcome !== 'already_done') await this.recordFinished(job, sealed);
    metrics.notificationsProcessed.inc({ kind: job.name, outcome: sealed.outcome });
    return sealed.outcome;
  }

  /**
   * The ledger keeps a finished job for a Redis that loses the state. The job is done either way:
   * failing it would send it again now, while a missing entry only matters if Redis is lost before
   * the job's events leave the rewind (then it is sent again under the same idempotency key).
   */
  private async recordFinished(job: Job<NotificationJobData>, sealed: Sealed): Promise<void> {
    try {
      await this.ledger.record({
        jobId: job.id!,
        recipient: job.data.recipient,
        ...(isDigest(job)
          ? { kind: 'digest', view: '', period: job.data.period }
          : { kind: 'aggregate', view: sealed.view! }),
        finishedAtMs: Date.now(),
      });
    } catch (err) {
      this.logger.error({ err, jobId: job.id }, 'finished job not recorded in the ledger');
    }
  }

  private async sealAggregate(job: Job<AggregateJobData>, now: number): Promise<Sealed> {
    const { view, raw } = await this.store.sealAggregate(job.data, {
      namedActors: this.config.NOTIFY_NAMED_ACTORS,
      perRecipient: this.config.NOTIFY_RECIPIENT_LIMIT,
      period: periodOf(now, this.config.NOTIFY_RECIPIENT_PERIOD_MS),
    });
    if (view.done) return { outcome: 'already_done' };
    if (view.decision === 'cancelled') return { outcome: 'cancelled', view: raw };
    if (view.decision === 'held') return { outcome: 'held', digestPeriod: view.digestPeriod, view: raw };
    return {
      outcome: 'delivered',
      notification: notificationOf(aggregateJobId(job.data), job.data.recipient, view),
      view: raw,
    };
  }

  private async sealDigest(job: Job<DigestJobData>): Promise<Sealed> {
    const { views: held, done } = await this.store.sealDigest(job.data);
    if (done) return { outcome: 'already_done' };
    if (held.size === 0) return { outcome: 'cancelled' };
    const items = [...held].map(([id, view]) => notificationOf(id, job.data.recipient, view));
    return { outcome: 'delivered', notification: digestNotification(job.id!, job.data.recipient, items) };
  }

  private async refreshDepth(): Promise<void> {
    try {
      const counts = await this.store.queue.getJobCounts(
        'waiting',
        'delayed',
        'active',
        'failed',
        'completed',
      );
      for (const [state, n] of Object.entries(counts)) {
        metrics.notifyQueueDepth.set({ queue: this.config.NOTIFY_QUEUE, state }, n);
      }
    } catch (err) {
      this.logger.warn({ err }, 'queue depth not refreshed');
    }
  }

  /** Lets the jobs in flight finish, then stops taking jobs. Safe to call twice. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      clearInterval(this.depthTimer);
      await this.worker.close();
      this.failureLog.flush();
    })();
    return this.closed;
  }
}

/**
 * Delivery failures, logged so that an unreachable receiver is one line a minute, not one per
 * attempt: the first failure of an interval is logged whole, the rest are counted and summed up
 * at the interval's end (the metric koo_notification_attempts_failed_total counts each one).
 */
class FailureLog {
  private readonly logger: Logger;
  private readonly intervalMs: number;
  private windowStartedAt = 0;
  private suppressed = { retried: 0, failedForGood: 0 };

  constructor(logger: Logger, intervalMs: number) {
    this.logger = logger;
    this.intervalMs = intervalMs;
  }

  record(level: 'warn' | 'error', fields: object, final: boolean): void {
    const now = Date.now();
    if (now - this.windowStartedAt >= this.intervalMs) {
      this.flush();
      this.windowStartedAt = now;
      this.logger[level](fields, final ? 'notification failed for good' : 'delivery failed; will retry');
      return;
    }
    if (final) this.suppressed.failedForGood++;
    else this.suppressed.retried++;
  }

  flushIfDue(): void {
    if (Date.now() - this.windowStartedAt >= this.intervalMs) this.flush();
  }

  flush(): void {
    const { retried, failedForGood } = this.suppressed;
    if (retried + failedForGood === 0) return;
    this.logger[failedForGood > 0 ? 'error' : 'warn'](
      { retried, failedForGood, intervalMs: this.intervalMs },
      `${retried + failedForGood} more delivery attempts failed (not logged one by one)`,
    );
    this.suppressed = { retried: 0, failedForGood: 0 };
  }
}

interface Sealed {
  outcome: Outcome;
  notification?: Notification;
  digestPeriod?: number;
  /** An aggregate's seal as Redis holds it (JSON): what the ledger keeps. */
  view?: string;
}

function notificationOf(id: string, recipient: string, view: AggregateView): Notification {
  return aggregateNotification(
    id,
    { kind: view.kind, recipient, kooId: view.kooId },
    view.actors,
    view.count,
  );
}
