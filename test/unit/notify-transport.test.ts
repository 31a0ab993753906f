import { UnrecoverableError } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { aggregateNotification } from '../../workers/notify/message.ts';
import { WebhookTransport } from '../../workers/notify-sender/transport.ts';
import { startWebhook } from '../support/webhook.ts';

const statusFor: Record<string, number> = { ok: 200, gone: 410, busy: 429, down: 503 };

describe('webhook transport', async () => {
  const webhook = await startWebhook((n) => statusFor[n.recipient]!);
  const transport = new WebhookTransport(webhook.url, 2000);
  const notification = (recipient: string) =>
    aggregateNotification(
      `agg.like.${recipient}.k.0.0`,
      { kind: 'like', recipient, kooId: 'k' },
      [{ id: 'a' }],
      1,
    );
  afterAll(() => webhook.close());

  it('POSTs the notification as JSON with the idempotency key', async () => {
    await transport.deliver(notification('ok'), 'key-1');
    expect(webhook.accepted.get('key-1')).toEqual(notification('ok'));
  });

  it('a 4xx is not retried; 429 and 5xx are', async () => {
    await expect(transport.deliver(notification('gone'), 'k2')).rejects.toBeInstanceOf(UnrecoverableError);
    for (const r of ['busy', 'down']) {
      const err = await transport.deliver(notification(r), `k-${r}`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(UnrecoverableError);
    }
  });
});
