import { HealthServer } from '../../shared/http/health-server.ts';
import { createLogger } from '../../shared/logging/logger.ts';
import { startTracing } from '../../shared/telemetry/tracing.ts';
import { configOrExit, exitOnSignals } from '../../shared/runtime/process-shutdown.ts';
import { dynamoFor } from '../../shared/dynamodb/dynamo-client.ts';
import { NotificationStore } from '../notify/notification-store.ts';
import { notifyLedgerFor } from '../notify/notify-ledger.ts';
import { LedgerRecorder } from './ledger-recorder.ts';
import { NotificationSender } from './notification-sender.ts';
import { loadSenderConfig } from './sender-config.ts';
import { transportFor, type NotificationTransport } from './transport.ts';

export interface RunningSender {
  httpPort: number;
  close(): Promise<void>;
}

/**
 * Starts the sender as the workers start (run-worker.ts): config checked first (a bad value
 * exits naming it), health and metrics over HTTP, then the BullMQ worker. SIGTERM/SIGINT let the
 * jobs in flight finish, then exit within the shutdown timeout; a job cut off by a crash is
 * retried by BullMQ's stalled-job check, under the same idempotency key.
 */
export async function runSender(
  options: {
    env?: NodeJS.ProcessEnv;
    ownProcess?: boolean;
    /** Default: the webhook at NOTIFY_WEBHOOK_URL, or the file NOTIFY_OUTBOX_FILE. */
    transport?: NotificationTransport;
  } = {},
): Promise<RunningSender> {
  const ownProcess = options.ownProcess ?? true;
  const config = configOrExit('notify-sender', ownProcess, () =>
    loadSenderConfig(options.env ?? process.env),
  );
  const logger = createLogger('notify-sender', config.LOG_LEVEL);
  const stopTracing = ownProcess
    ? startTracing('koo-notify-sender', config.OTEL_TRACES_EXPORTER)
    : async () => {};
  const store = new NotificationStore(config.REDIS_URL, config);
  const configured = transportFor(config);
  const transport = options.transport ?? configured.transport;
  const sender = new NotificationSender(
    store,
    new LedgerRecorder(notifyLedgerFor(dynamoFor(config), config)),
    transport,
    config,
    logger,
  );
  const health = new HealthServer();
  health.addReadinessCheck('queue', () => sender.isRunning());
  health.addReadinessCheck('redis', () => store.ping());
  const httpPort = await health.listen(config.HTTP_PORT);
  logger.info(
    { httpPort, queue: config.NOTIFY_QUEUE },
    `sender started; notifications are ${options.transport ? 'delivered by the given transport' : configured.destination}`,
  );

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await sender.close();
      await store.close();
      await health.close();
      await stopTracing().catch((err: unknown) => logger.warn({ err }, 'flushing spans failed'));
      logger.info('stopped');
    })());
  if (ownProcess) exitOnSignals(logger, config.SHUTDOWN_TIMEOUT_MS, close);
  return { httpPort, close };
}
