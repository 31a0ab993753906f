import type { Command } from 'commander';
import { commonConfigSchema } from '../../shared/config/common.ts';
import { loadConfig } from '../../shared/config/load-config.ts';
import { notificationQueueConfigSchema } from '../../workers/notify/notify-config.ts';
import { NotificationStore } from '../../workers/notify/notification-store.ts';

async function withStore(run: (store: NotificationStore) => Promise<unknown>): Promise<void> {
  const config = loadConfig(commonConfigSchema.safeExtend(notificationQueueConfigSchema.shape));
  const store = new NotificationStore(config.REDIS_URL, config);
  try {
    console.log(JSON.stringify(await run(store), null, 2));
  } finally {
    await store.close();
  }
}

/** `koo notify ...`: the notifications queue (NOTIFY_QUEUE, NOTIFY_PREFIX) seen and operated by ops. */
export function addNotifyCommands(program: Command): Command {
  const notify = program.command('notify').description('operate the notifications queue (prints JSON)');
  notify
    .command('status')
    .description('jobs per state: waiting, delayed, active, failed, completed')
    .action(() =>
      withStore((s) => s.queue.getJobCounts('waiting', 'delayed', 'active', 'failed', 'completed')),
    );
  notify
    .command('failed')
    .description('failed jobs with their reason (newest first)')
    .option('--limit <n>', 'jobs at most', '20')
    .action((opts: { limit: string }) =>
      withStore(async (s) =>
        (await s.queue.getFailed(0, Number(opts.limit) - 1)).map((j) => ({
          id: j.id,
          attempts: j.attemptsMade,
          reason: j.failedReason,
          failedAt: j.finishedOn && new Date(j.finishedOn).toISOString(),
        })),
      ),
    );
  notify
    .command('retry-failed')
    .description('move every failed job back to waiting (same id, so the receiver still deduplicates)')
    .action(() =>
      withStore(async (s) => {
        const failed = await s.queue.getJobCountByTypes('failed');
        await s.queue.retryJobs({ state: 'failed' });
        return { retried: failed };
      }),
    );
  return notify;
}
