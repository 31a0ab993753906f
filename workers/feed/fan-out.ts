import { KooError } from '../../shared/errors/koo-error.ts';
import { metrics } from '../../shared/metrics/metrics.ts';
import { mapConcurrent } from '../../shared/runtime/backoff.ts';
import type { HandlerContext } from '../../shared/runtime/worker-definition.ts';
import {
  feedEntry,
  feedEntryKey,
  recordExpiry,
  trimsOnWrite,
  type FeedSettings,
  type JobPlan,
  type KooJob,
} from './decide.ts';
import type { FeedStore } from './feed-store.ts';
import type { GraphStore } from './graph-store.ts';

export interface FanOutParts {
  graph: GraphStore;
  feed: FeedStore;
  settings: FeedSettings;
  /** Followers read, written and checkpointed at a time: bounds memory and the work a crash redoes. */
  pageSize: number;
  /** Trims in flight per page. */
  concurrency: number;
}

/**
 * Pushes a koo to every follower's feed, or retracts it, page by page: one page of followers in
 * memory, its entries written 25 to a request, then the position saved in the koo's fan-out
 * record and a heartbeat. A crash resumes after the last saved page (entries are idempotent puts,
 * so redoing part of a page is harmless); a shutdown stops between pages.
 */
export class FanOut {
  private readonly parts: FanOutParts;

  constructor(parts: FanOutParts) {
    this.parts = parts;
  }

  async run(
    job: KooJob,
    plan: Extract<JobPlan, { action: 'start' | 'resume' }>,
    followers: number,
    ctx: HandlerContext,
    nowMs: number,
  ): Promise<void> {
    const { koo, version, kind } = job;
    const { settings } = this.parts;
    let cursor = plan.action === 'resume' ? plan.cursor : undefined;
    let written = plan.action === 'resume' ? plan.written : 0;
    if (
      plan.action === 'start' &&
      !(await this.parts.feed.startRecord(koo.contentId, kind, version, recordExpiry(job, nowMs, settings)))
    ) {
      throw new KooError('SINK_UNAVAILABLE', `fan-out record of ${koo.contentId} moved on; reading again`, {
        retriable: true,
      });
    }
    let pending = Math.max(0, followers - written);
    metrics.feedFanOutsRunning.inc({ kind });
    metrics.feedFanOutPending.inc(pending);
    const stopTimer = metrics.feedFanOutDuration.startTimer({ kind });
    try {
      do {
        if (ctx.signal.aborted) {
          throw new KooError('SHUTTING_DOWN', `fan-out of ${koo.contentId} stopped at ${written} followers`, {
            retriable: true,
          });
        }
        const page = await this.parts.graph.followers(koo.authorId, this.parts.pageSize, cursor);
        await this.parts.feed.writeEntries(
          page.followerIds.map((f) =>
            kind === 'push' ? { put: feedEntry(f, koo, settings) } : { delete: feedEntryKey(f, koo) },
          ),
        );
        metrics.feedEntries.inc(
          { operation: kind === 'push' ? 'put' : 'delete', cause: kind === 'push' ? 'fanout' : 'retract' },
          page.followerIds.length,
        );
        if (kind === 'push') {
          const trimmed = await mapConcurrent(
            page.followerIds.filter((f) => trimsOnWrite(f, koo.contentId, settings)),
            this.parts.concurrency,
            (f) => this.parts.feed.trim(f, settings.cap),
            ctx.signal,
          );
          metrics.feedEntries.inc(
            { operation: 'delete', cause: 'trim' },
            trimmed.reduce((s, n) => s + n, 0),
          );
        }
        written += page.followerIds.length;
        cursor = page.next;
        await this.parts.feed.saveProgress(koo.contentId, version, {
          written,
          ...(cursor ? { cursor } : { finalState: kind === 'push' ? 'pushed' : 'retracted' }),
        });
        const reached = Math.min(pending, page.followerIds.length);
        pending -= reached;
        metrics.feedFanOutPending.dec(reached);
        await ctx.heartbeat();
      } while (cursor);
    } finally {
      metrics.feedFanOutPending.dec(pending);
      metrics.feedFanOutsRunning.dec({ kind });
      stopTimer();
    }
  }
}
