import { UnrecoverableError } from 'bullmq';
import type { Notification } from '../notify/message.ts';

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
      headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
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
