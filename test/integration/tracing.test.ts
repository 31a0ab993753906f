import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReactionProducer } from '../../clients/producer/reaction-producer.ts';
import { topicNames } from '../../schemas/topics.ts';
import { startTracing } from '../../shared/telemetry/tracing.ts';
import { newId, runId } from '../support/ids.ts';
import { pinGroupAtEnd, testKafka } from '../support/kafka.ts';
import { notificationStore, seedViews } from '../support/notify.ts';
import { testReactionProducer } from '../support/reactions.ts';
import { waitFor } from '../support/wait-for.ts';
import { startWebhook } from '../support/webhook.ts';
import { workerReplicas } from '../support/workers.ts';

interface CollectedSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
}

/** An OTLP/HTTP (JSON) trace receiver, as an OpenTelemetry Collector would run one. */
async function startCollector(): Promise<{
  url: string;
  spans: CollectedSpan[];
  close: () => Promise<void>;
}> {
  const spans: CollectedSpan[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as {
        resourceSpans: {
          resource: { attributes: { key: string; value: { stringValue?: string } }[] };
          scopeSpans: { spans: Omit<CollectedSpan, 'service'>[] }[];
        }[];
      };
      for (const rs of body.resourceSpans) {
        const service =
          rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '?';
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans)
            spans.push({
              service,
              name: s.name,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId || undefined,
            });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    spans,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

// One like, followed by its trace: the app's producer span, the reactions worker and the notify
// worker processing the record (children of the producer's span, through the Kafka headers), and
// the notification job's delivery (child of the notify worker's span, through the job).
describe('traces across Kafka, the workers and the notification queue', () => {
  const queueEnv = { NOTIFY_PREFIX: `itest-trace-${runId}` };
  const groups = { reactions: `test-trace-reactions-${runId}`, notify: `test-trace-notify-${runId}` };
  let collector: Awaited<ReturnType<typeof startCollector>>;
  let webhook: Awaited<ReturnType<typeof startWebhook>>;
  let admin: Admin;
  let producer: ReactionProducer;
  let stopTracing: () => Promise<void>;
  const processes: ReturnType<typeof workerReplicas>[] = [];

  beforeAll(async () => {
    collector = await startCollector();
    webhook = await startWebhook();
    const tracing = {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: collector.url,
      OTEL_BSP_SCHEDULE_DELAY: '200',
    };
    // This process plays the app service that emits the reaction.
    Object.assign(process.env, tracing);
    stopTracing = startTracing('koo-test-app', 'otlp');
    admin = testKafka().admin();
    await admin.connect();
    await pinGroupAtEnd(admin, groups.reactions, [topicNames.reactions]);
    await pinGroupAtEnd(admin, groups.notify, [topicNames.reactions, topicNames.koos, topicNames.follows]);
    producer = await testReactionProducer();
    const env = { ...tracing, ...queueEnv };
    processes.push(
      workerReplicas('reactions', { ...env, REACTIONS_GROUP_ID: groups.reactions }),
      workerReplicas('notify', { ...env, NOTIFY_GROUP_ID: groups.notify, NOTIFY_WINDOW_MS: '1000' }),
      workerReplicas('notify-sender', { ...env, NOTIFY_WEBHOOK_URL: webhook.url }),
    );
    for (const p of processes) p.start();
  });

  afterAll(async () => {
    for (const p of processes) p.killAll();
    await producer?.close();
    await stopTracing?.();
    const store = notificationStore(queueEnv.NOTIFY_PREFIX);
    await store.obliterate();
    await store.close();
    await admin?.disconnect();
    await webhook?.close();
    await collector?.close();
  });

  it('one trace id spans the producer, the reactions and notify workers, and the notification delivery', async () => {
    const [koo, creator, liker] = [`t${newId()}`, `t${newId()}`, `t${newId()}`];
    await seedViews([{ id: koo, creator }], [{ id: liker, handle: 'tracer' }]);
    await producer.emit({ type: 'like', content_id: koo, user_id: liker });
    await producer.flush();

    const delivered = await waitFor(
      'the like to be delivered to its creator',
      () => webhook.calls.find((c) => c.notification.recipient === creator),
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const publish = await waitFor('the producer span', () =>
      collector.spans.find((s) => s.service === 'koo-test-app' && s.name === 'koo.reactions publish'),
    );
    const trace = () => collector.spans.filter((s) => s.traceId === publish.traceId);
    const of = (service: string, name: string) =>
      trace().find((s) => s.service === service && s.name === name);
    const [reactions, notify, deliver] = await waitFor(
      'the workers and the sender to report their spans',
      () => {
        const found = [
          of('koo-reactions', 'koo.reactions process'),
          of('koo-notify', 'koo.reactions process'),
          of('koo-notify-sender', 'notifications deliver'),
        ];
        return found.every((x) => x !== undefined)
          ? (found as [CollectedSpan, CollectedSpan, CollectedSpan])
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(reactions.parentSpanId).toBe(publish.spanId);
    expect(notify.parentSpanId).toBe(publish.spanId);
    expect(deliver.parentSpanId).toBe(notify.spanId);
    // The webhook gets the context too, so the notification service can continue the trace.
    expect(delivered.traceparent?.split('-')[1]).toBe(publish.traceId);
  });
});
