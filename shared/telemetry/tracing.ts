import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { IHeaders } from 'kafkajs';
import { errorMessage } from '../errors/koo-error.ts';
import type { RawRecord } from '../kafka/records.ts';

/**
 * Traces follow one event across processes: its Kafka headers carry the W3C trace context
 * (`traceparent`) from the producer to each worker, through the DLQ and a redrive, and a
 * notification job carries it to its delivery. With tracing off (the default) the OpenTelemetry
 * API is a no-op: no span is recorded and no header is added.
 */

/**
 * The process's tracer provider, when OTEL_TRACES_EXPORTER=otlp (commonConfigSchema): the SDK's
 * own OTEL_* variables say where spans go. Resolves to the flush-and-stop of the provider.
 */
export function startTracing(
  serviceName: string,
  exporter: 'none' | 'otlp',
  env: NodeJS.ProcessEnv = process.env,
): () => Promise<void> {
  if (exporter !== 'otlp') return async () => {};
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME ?? serviceName }),
    // OTLP over HTTP to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces).
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register(); // W3C trace context as the propagator, AsyncLocalStorage as the context manager
  return () => provider.shutdown();
}

export const tracer = () => trace.getTracer('koo-pipeline');

/** The trace context of `ctx` as string headers (empty when tracing is off or nothing is traced). */
export function traceHeaders(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

const kafkaHeaderGetter: TextMapGetter<IHeaders> = {
  keys: (headers) => Object.keys(headers),
  get: (headers, key) => {
    const value = headers[key];
    const first = Array.isArray(value) ? value[0] : value;
    return first === undefined ? undefined : first.toString();
  },
};

/** The context a record's producer put in its headers (the root context when there is none). */
export function contextOfHeaders(headers: IHeaders): Context {
  return propagation.extract(ROOT_CONTEXT, headers, kafkaHeaderGetter);
}

/** The context of a `traceHeaders()` carrier kept in a job or a row. */
export function contextOfCarrier(carrier: Record<string, string> | undefined): Context {
  return carrier ? propagation.extract(ROOT_CONTEXT, carrier) : ROOT_CONTEXT;
}

/** Ends a span with the outcome of the work it covered. */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    span.recordException(error instanceof Error ? error : new Error(errorMessage(error)));
    span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(error) });
  }
  span.end();
}

/** Runs `work` in a new span (child of `parent`), ending it with the outcome. */
export async function inSpan<R>(
  name: string,
  options: { kind: SpanKind; attributes?: Attributes; parent?: Context },
  work: (span: Span) => Promise<R>,
): Promise<R> {
  const span = tracer().startSpan(
    name,
    { kind: options.kind, attributes: options.attributes },
    options.parent,
  );
  try {
    const result = await context.with(trace.setSpan(options.parent ?? context.active(), span), () =>
      work(span),
    );
    endSpan(span);
    return result;
  } catch (err) {
    endSpan(span, err);
    throw err;
  }
}

const spanOfRecord = new WeakMap<RawRecord, Span>();

/**
 * One CONSUMER span per record that carries a trace context, child of its producer's span, for
 * the time the worker's batch takes; untraced records get none (no root span per event).
 */
export function startRecordSpans(records: readonly RawRecord[], worker: string, group: string): Span[] {
  const spans: Span[] = [];
  for (const record of records) {
    // Most records carry no context (and none do with tracing off): no propagator call for them.
    if (record.headers.traceparent === undefined) continue;
    const parent = contextOfHeaders(record.headers);
    if (!trace.getSpanContext(parent)) continue;
    const span = tracer().startSpan(
      `${record.topic} process`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'kafka',
          'messaging.operation.type': 'process',
          'messaging.destination.name': record.topic,
          'messaging.destination.partition.id': String(record.partition),
          'messaging.kafka.offset': Number(record.offset),
          'messaging.consumer.group.name': group,
          'koo.worker': worker,
        },
      },
      parent,
    );
    spanOfRecord.set(record, span);
    spans.push(span);
  }
  return spans;
}

/** The trace context of a record's process span, for the work it causes further on (a job). */
export function traceCarrierOfRecord(record: RawRecord): Record<string, string> | undefined {
  const span = spanOfRecord.get(record);
  return span ? traceHeaders(trace.setSpan(ROOT_CONTEXT, span)) : undefined;
}

export { SpanKind };
