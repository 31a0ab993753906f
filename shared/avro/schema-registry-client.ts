import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';

type ClientArgs = ConstructorParameters<typeof SchemaRegistry>[0];

/**
 * A registry request idle this long is abandoned. Answers take milliseconds; without a limit a
 * request that never gets one (a stopped registry, a connection dropped without a reset) waits
 * forever, and so does the partition whose batch needs the schema.
 */
export const REGISTRY_REQUEST_TIMEOUT_MS = 5_000;

/** Gives every request a timeout (the client sets none; mappersmith's HTTP gateway applies it). */
const requestTimeout =
  (timeoutMs: number): NonNullable<ClientArgs['middlewares']>[number] =>
  () => ({
    async prepareRequest(next) {
      const request = await next();
      return request.timeout() ? request : request.enhance({ timeout: timeoutMs });
    },
  });

/**
 * The Confluent registry client every part of the pipeline uses: each request times out, and a
 * request that failed on the way (a timeout, a connection reset: mappersmith reports both as an
 * answer carrying the error) is retried like a 5xx (the client's retry: 3 more tries within 5 s of
 * backoff), then fails; callers treat that failure as retriable (RegistryCodec:
 * REGISTRY_UNAVAILABLE). POSTs too, which the client retries by default only for GETs: the
 * pipeline's are a schema lookup and registering a schema, which returns the same id again.
 */
export function createSchemaRegistry(
  url: string,
  requestTimeoutMs = REGISTRY_REQUEST_TIMEOUT_MS,
): SchemaRegistry {
  return new SchemaRegistry({
    host: url,
    retry: {
      enableRetry: () => true,
      validateRetry: (response) => response.status() >= 500 || response.error() !== null,
    },
    middlewares: [requestTimeout(requestTimeoutMs)],
  });
}
