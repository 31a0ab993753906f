import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnrecoverableError } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { aggregateNotification } from '../../workers/notify/message.ts';
import { loadSenderConfig } from '../../workers/notify-sender/sender-config.ts';
import { FileTransport, transportFor, WebhookTransport } from '../../workers/notify-sender/transport.ts';
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

describe('default transport', () => {
  it('without NOTIFY_WEBHOOK_URL deliveries are appended to the outbox file, one JSON line each', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'koo-outbox-'));
    try {
      const file = join(dir, 'nested', 'notifications.jsonl');
      const { transport, destination } = transportFor(loadSenderConfig({ NOTIFY_OUTBOX_FILE: file }));
      expect(transport).toBeInstanceOf(FileTransport);
      expect(destination).toContain(file);
      const n = aggregateNotification(
        'agg.like.u.k.0.0',
        { kind: 'like', recipient: 'u', kooId: 'k' },
        [{ id: 'a' }],
        3,
      );
      await transport.deliver(n, 'key-a');
      await transport.deliver(n, 'key-b');
      const lines = (await readFile(file, 'utf8'))
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.map((l) => l.idempotencyKey)).toEqual(['key-a', 'key-b']);
      expect(lines[0].notification).toEqual(n);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a webhook URL selects the webhook; an empty one means none', () => {
    const webhook = transportFor(loadSenderConfig({ NOTIFY_WEBHOOK_URL: 'http://127.0.0.1:1/n' }));
    expect(webhook.transport).toBeInstanceOf(WebhookTransport);
    expect(transportFor(loadSenderConfig({ NOTIFY_WEBHOOK_URL: '' })).transport).toBeInstanceOf(
      FileTransport,
    );
    expect(() => loadSenderConfig({ NOTIFY_WEBHOOK_URL: 'nope' })).toThrow(/NOTIFY_WEBHOOK_URL/);
  });
});
