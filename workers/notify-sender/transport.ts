import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UnrecoverableError } from 'bullmq';
import type { Notification } from '../notify/message.ts';
import { traceHeaders } from '../../shared/telemetry/tracing.ts';

/**
 * How a notification leaves the pipeline (a webhook, a push gateway, an email service). The
 * sender delivers at least once; `idempotencyKey` (the job id) lets the receiver drop repeats,
 * which makes delivery exactly-once from its point of view. Throw to have the job retried;
 * throw BullMQ's UnrecoverableError for what no retry can fix.
 */
export interface NotificationTransport {
  deliver(notification: Notification, idempotencyKey: string): Promise<void>;
}

/** Statuses that say "not now" rather than "never": retried like network errors. */
const retriableStatuses = new Set([408, 425, 429]);

/** POSTs the notification as JSON to one URL, with the job id in the `Idempotency-Key` header. */
export class WebhookTransport implements NotificationTransport {
  private readonly url: string;
  private readonly timeoutMs: number;

  constructor(url: string, timeoutMs: number) {
    this.url = url;
    this.timeoutMs = timeoutMs;
  }

  async deliver(notification: Notification, idempotencyKey: string): Promise<void> {
    const res = await fetch(this.url, {
      method: 'POST',
      // traceparent: the receiving service can continue the event's trace.
      headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey, ...traceHeaders() },
      body: JSON.stringify(notification),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    await res.body?.cancel();
    if (res.ok) return;
    const reason = `webhook answered ${res.status} ${res.statusText}`;
    if (res.status >= 400 && res.status < 500 && !retriableStatuses.has(res.status)) {
      throw new UnrecoverableError(reason);
    }
    throw new Error(reason);
  }
}

/**
 * Appends each delivery as one JSON line (`{ idempotencyKey, deliveredAt, notification }`) to a
 * file: the default where no webhook is configured, so a local run delivers somewhere a person
 * can read (`tail -f`) instead of failing every attempt against a receiver nobody runs. A retried
 * job may append its line again; readers drop repeats by `idempotencyKey`, as a receiver would.
 */
export class FileTransport implements NotificationTransport {
  readonly path: string;
  private ready: Promise<unknown> | undefined;

  constructor(path: string) {
    this.path = path;
  }

  async deliver(notification: Notification, idempotencyKey: string): Promise<void> {
    await (this.ready ??= mkdir(dirname(this.path), { recursive: true }));
    const line = JSON.stringify({ idempotencyKey, deliveredAt: new Date().toISOString(), notification });
    await appendFile(this.path, `${line}\n`);
  }
}

/** The configured transport and a line saying where deliveries go (logged once at start). */
export function transportFor(config: {
  NOTIFY_WEBHOOK_URL?: string | undefined;
  NOTIFY_WEBHOOK_TIMEOUT_MS: number;
  NOTIFY_OUTBOX_FILE: string;
}): { transport: NotificationTransport; destination: string } {
  if (config.NOTIFY_WEBHOOK_URL)
    return {
      transport: new WebhookTransport(config.NOTIFY_WEBHOOK_URL, config.NOTIFY_WEBHOOK_TIMEOUT_MS),
      destination: `POST ${config.NOTIFY_WEBHOOK_URL}`,
    };
  return {
    transport: new FileTransport(config.NOTIFY_OUTBOX_FILE),
    destination: `appended to ${config.NOTIFY_OUTBOX_FILE} (set NOTIFY_WEBHOOK_URL to POST them)`,
  };
}
