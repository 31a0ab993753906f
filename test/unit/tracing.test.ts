import { context, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawRecord } from '../../shared/kafka/records.ts';
import {
  contextOfCarrier,
  contextOfHeaders,
  endSpan,
  startRecordSpans,
  traceCarrierOfRecord,
  traceHeaders,
  tracer,
} from '../../shared/telemetry/tracing.ts';

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
beforeAll(() => provider.register());
afterAll(() => provider.shutdown());

const record = (offset: number, headers: RawRecord['headers']): RawRecord => ({
  topic: 'koo.reactions',
  partition: 3,
  offset: String(offset),
  key: null,
  value: null,
  timestamp: '0',
  headers,
});

describe('trace context through Kafka headers and jobs', () => {
  it('round-trips as a W3C traceparent, in string or Buffer headers', () => {
    const span = tracer().startSpan('publish');
    const headers = traceHeaders(trace.setSpan(context.active(), span));
    expect(headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const fromBuffer = contextOfHeaders({ traceparent: Buffer.from(headers.traceparent!) });
    expect(trace.getSpanContext(fromBuffer)?.spanId).toBe(span.spanContext().spanId);
    expect(trace.getSpanContext(contextOfCarrier(headers))?.traceId).toBe(span.spanContext().traceId);
    expect(trace.getSpanContext(contextOfCarrier(undefined))).toBeUndefined();
    span.end();
  });

  it('gives a CONSUMER span only to records that carry a context, each the child of its producer', () => {
    exporter.reset();
    const publish = tracer().startSpan('publish');
    const traced = record(7, traceHeaders(trace.setSpan(context.active(), publish)));
    const untraced = record(8, {});
    const spans = startRecordSpans([traced, untraced], 'notify', 'koo-notify');
    expect(spans).toHaveLength(1);
    expect(traceCarrierOfRecord(untraced)).toBeUndefined();
    const carried = trace.getSpanContext(contextOfCarrier(traceCarrierOfRecord(traced)));
    expect(carried?.traceId).toBe(publish.spanContext().traceId);
    spans.forEach((s) => endSpan(s, new Error('sink down')));
    const [finished] = exporter.getFinishedSpans();
    expect(finished?.parentSpanContext?.spanId).toBe(publish.spanContext().spanId);
    expect(finished?.attributes).toMatchObject({
      'messaging.kafka.offset': 7,
      'messaging.consumer.group.name': 'koo-notify',
    });
    expect(finished?.status.code).toBe(2); // ERROR, with the exception recorded
    expect(finished?.events[0]?.name).toBe('exception');
  });
});
