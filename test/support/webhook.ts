import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Notification } from '../../workers/notify/message.ts';

export interface WebhookCall {
  key: string;
  notification: Notification;
  /** 0: the receiver never answered. */
  status: number;
  /** The W3C trace context the sender passed on, if it traces. */
  traceparent?: string;
}

/**
 * A receiver as a notification service would run one: it deduplicates by the Idempotency-Key
 * header, so `accepted` holds each key once; `calls` logs every POST (retries included) and
 * `conflicts` the keys that came again with different content. `respond` picks the status of
 * each call from the notification and how often its key was seen (1 on the first call), or
 * 'hang': no answer, as a receiver that stalls (the sender is killed mid-call).
 */
export async function startWebhook(
  respond: (n: Notification, attempt: number) => number | 'hang' = () => 200,
) {
  const calls: WebhookCall[] = [];
  const accepted = new Map<string, Notification>();
  const conflicts: string[] = [];
  const seen = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const key = String(req.headers['idempotency-key']);
      const body = Buffer.concat(chunks).toString();
      const notification = JSON.parse(body) as Notification;
      const attempt = (seen.get(key) ?? 0) + 1;
      seen.set(key, attempt);
      const status = respond(notification, attempt);
      if (status === 'hang') {
        calls.push({ key, notification, status: 0 });
        return;
      }
      const traceparent = req.headers.traceparent as string | undefined;
      calls.push({ key, notification, status, ...(traceparent ? { traceparent } : {}) });
      if (status < 300) {
        const before = accepted.get(key);
        if (before === undefined) accepted.set(key, notification);
        else if (JSON.stringify(before) !== body) conflicts.push(key);
      }
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/notifications`,
    calls,
    accepted,
    conflicts,
    /** Accepted notifications to one recipient. */
    to: (recipient: string) => [...accepted.values()].filter((n) => n.recipient === recipient),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // calls left hanging
      }),
  };
}
