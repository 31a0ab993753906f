import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  DynamoDBServiceException,
  LimitExceededException,
  ProvisionedThroughputExceededException,
  RequestLimitExceeded,
  ThrottlingException,
  TransactionConflictException,
} from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  UpdateCommand,
  type NativeAttributeValue,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { localCredentials } from '../aws/credentials.ts';
import { KooError, errorMessage } from '../errors/koo-error.ts';
import { metrics } from '../metrics/metrics.ts';
import { countConsumedCapacity } from './consumed-capacity.ts';
import { InFlightLimit } from './in-flight-limit.ts';
import { stopped, stopSignal, untilStopped } from '../runtime/process-shutdown.ts';
import { Retries, sinkRetryPolicy, type RetryPolicy } from '../runtime/retry.ts';

export interface DynamoOptions {
  region: string;
  endpoint?: string | undefined;
  /** How long retriable failures (throttling, 5xx, network) are retried before giving up. */
  retryMaxMs?: number;
  /** Requests in flight at most while DynamoDB answers well (fewer while it does not: InFlightLimit). */
  maxInFlight?: number;
}

const throttlingErrors = [
  ProvisionedThroughputExceededException,
  ThrottlingException,
  RequestLimitExceeded,
  LimitExceededException,
];

/**
 * What a failed request tells about DynamoDB, from the SDK's typed errors: throttled; rejected
 * (a client fault such as a failed condition, a validation error, a missing table: DynamoDB is
 * well and the same request would fail again); or failed without an answer (timeouts, 5xx,
 * network), which is retried. A conflict with a transaction in flight is retried too.
 */
function outcomeOf(err: unknown): 'throttled' | 'rejected' | 'failed' {
  if (throttlingErrors.some((type) => err instanceof type)) return 'throttled';
  if (err instanceof TransactionConflictException) return 'failed';
  if (err instanceof DynamoDBServiceException && err.$fault === 'client') return 'rejected';
  return 'failed';
}

/**
 * The one way the pipeline talks to DynamoDB: a document client whose every call is counted,
 * timed, and retried on throttling and transient failures with capped exponential backoff and
 * jitter (the SDK's own retries are off so that there is one policy, measured in one place).
 * While DynamoDB times out or fails, the client's requests in flight shrink to one (InFlightLimit),
 * so a slow sink is probed, not stormed.
 */
export class Dynamo {
  readonly doc: DynamoDBDocumentClient;
  /** How this client retries (SINK_RETRY_MAX_MS): its own requests and its callers' partial answers (UnprocessedItems). */
  readonly retryPolicy: RetryPolicy;
  private readonly inFlight: InFlightLimit;
  /** When a request last got an answer, and last failed without one (timeouts, 5xx, refused), in epoch ms. */
  private lastAnsweredAt = -Infinity;
  private lastFailedAt = -Infinity;

  constructor(options: DynamoOptions) {
    const client = new DynamoDBClient({
      region: options.region,
      endpoint: options.endpoint,
      maxAttempts: 1,
      // Without timeouts a request to an unreachable endpoint (dropped packets) waits forever and
      // stalls the partition; with them it fails and joins the retry policy below. Generous, as a
      // request that timed out may still be applied (every write here is idempotent or fenced).
      requestHandler: { connectionTimeout: 3_000, requestTimeout: 30_000, throwOnRequestTimeout: true },
      ...localCredentials(options.endpoint),
    });
    countConsumedCapacity(client);
    this.doc = DynamoDBDocumentClient.from(client, {
      marshallOptions: { removeUndefinedValues: true },
    });
    this.retryPolicy = sinkRetryPolicy(options.retryMaxMs ?? 30_000);
    this.inFlight = new InFlightLimit(options.maxInFlight ?? 256);
  }

  /**
   * Runs one DynamoDB request (`operation` names it in metrics), retrying what can be retried.
   * ConditionalCheckFailed and other client errors are thrown at once for the caller to decide.
   */
  async call<T>(operation: string, request: (doc: DynamoDBDocumentClient) => Promise<T>): Promise<T> {
    const signal = stopSignal();
    const retries = new Retries(this.retryPolicy, signal);
    for (;;) {
      await this.inFlight.acquire(signal);
      if (signal.aborted) {
        this.inFlight.abandon();
        throw stopped(`DynamoDB ${operation}`);
      }
      const stopTimer = metrics.dynamodbRequestDuration.startTimer({ operation });
      try {
        const out = await untilStopped(request(this.doc), `DynamoDB ${operation}`, signal);
        stopTimer();
        this.inFlight.release(true);
        this.lastAnsweredAt = Date.now();
        metrics.dynamodbRequests.inc({ operation, outcome: 'ok' });
        return out;
      } catch (err) {
        stopTimer();
        if (err instanceof KooError && err.code === 'SHUTTING_DOWN') {
          this.inFlight.abandon();
          throw err;
        }
        const outcome = outcomeOf(err);
        // A rejection is an answer: DynamoDB is well. Anything else (timeouts, 5xx, throttling) cuts the limit.
        const rejected = outcome === 'rejected';
        this.inFlight.release(rejected);
        if (rejected) {
          this.lastAnsweredAt = Date.now();
          metrics.dynamodbRequests.inc({
            operation,
            outcome: isConditionFailed(err) ? 'condition_failed' : 'rejected',
          });
          if (isItemTooLarge(err)) {
            throw new KooError(
              'ITEM_TOO_LARGE',
              `DynamoDB ${operation}: ${errorMessage(err)} (400 KB per item)`,
              {
                cause: err,
              },
            );
          }
          throw err;
        }
        this.lastFailedAt = Date.now();
        const throttled = outcome === 'throttled';
        metrics.dynamodbRequests.inc({ operation, outcome: throttled ? 'throttled' : 'error' });
        if (throttled) metrics.dynamodbThrottles.inc({ operation });
        if (!(await retries.wait())) {
          if (signal.aborted) throw stopped(`DynamoDB ${operation}`, err);
          throw new KooError(
            throttled ? 'SINK_THROTTLED' : 'SINK_UNAVAILABLE',
            `DynamoDB ${operation} failed after ${retries.failures + 1} attempts: ${String(err)}`,
            { retriable: true, cause: err },
          );
        }
      }
    }
  }

  /**
   * A conditional UpdateItem: resolves with the attributes it returns (`{}` when it asks for
   * none), or undefined when the condition did not hold, which is the caller's answer rather than
   * a failure (a newer version is stored, a set already holds the member, ...).
   */
  async updateIf(input: UpdateCommandInput): Promise<Record<string, NativeAttributeValue> | undefined> {
    try {
      const out = await this.call('UpdateItem', (doc) => doc.send(new UpdateCommand(input)));
      return out.Attributes ?? {};
    } catch (err) {
      if (isConditionFailed(err)) return undefined;
      throw err;
    }
  }

  /**
   * Whether DynamoDB answers (readiness): yes at once when a request was answered in the last
   * `freshMs` and none failed since; otherwise one GetItem of `key` in `table` (a table the
   * worker may read), sent ahead of the requests waiting for a slot and not retried, so that a
   * worker's own backlog after an outage does not read as the sink being down.
   */
  async reachable(table: string, key: Record<string, string>, freshMs = 5_000): Promise<boolean> {
    const now = Date.now();
    if (this.lastAnsweredAt > this.lastFailedAt && now - this.lastAnsweredAt < freshMs) return true;
    try {
      await this.doc.send(new GetCommand({ TableName: table, Key: key }));
      this.lastAnsweredAt = Date.now();
      return true;
    } catch (err) {
      const answered = outcomeOf(err) === 'rejected';
      if (answered) this.lastAnsweredAt = Date.now();
      return answered;
    }
  }

  destroy(): void {
    this.doc.destroy();
  }
}

/** DynamoDB's answer to a write that would make an item larger than 400 KB (a ValidationException). */
function isItemTooLarge(err: unknown): boolean {
  return (
    err instanceof DynamoDBServiceException &&
    err.$fault === 'client' &&
    /item size .*exceeded the maximum allowed size/i.test(err.message)
  );
}

export function isConditionFailed(err: unknown): err is ConditionalCheckFailedException {
  return err instanceof ConditionalCheckFailedException;
}

/**
 * The client a worker uses, from its validated config: sink retries last `SINK_RETRY_MAX_MS`
 * (a worker's batch then retries whole); command-line reads pass a short budget instead.
 */
export function dynamoFor(
  config: { AWS_REGION: string; DYNAMODB_ENDPOINT?: string | undefined; SINK_RETRY_MAX_MS?: number },
  retryMaxMs = config.SINK_RETRY_MAX_MS,
): Dynamo {
  return new Dynamo({ region: config.AWS_REGION, endpoint: config.DYNAMODB_ENDPOINT, retryMaxMs });
}
