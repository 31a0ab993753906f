import { randomUUID } from 'node:crypto';
import { KooError } from '../../shared/errors/koo-error.ts';
import type { Logger } from '../../shared/logging/logger.ts';
import { metrics } from '../../shared/metrics/metrics.ts';
import type { Resume } from '../../shared/runtime/worker-definition.ts';
import type { NotifyLedger } from './notify-ledger.ts';
import type { NotificationStore, StateEpoch } from './notification-store.ts';

/** How long one member may take to rebuild the state before another may try (released at once when it fails). */
const RECOVERY_LOCK_MS = 30_000;

/**
 * Finds out when Redis lost the notification state, and makes the log bring it back.
 *
 * Redis holds an epoch, mirrored in the ledger (DynamoDB). Every script refuses to write while
 * Redis has none, so a Redis that came back empty fails the chunk in flight; the chunk is fetched
 * again, and `resumeFrom` then finds no epoch: the first member to see it restores what the ledger
 * knows (the jobs the sender finished) and begins a new epoch that rewinds every partition by
 * `rewindMs`, by time. When the ledger has no epoch either, this is the first start: nothing to
 * rewind.
 *
 * Each partition records how far it was applied in the current epoch (`handled`). A partition
 * with no record in an epoch that rewinds goes back to the epoch's time; one whose next chunk
 * starts past its record (a member applied it, then died before its commit) goes back to the
 * record. A rebalance between any two steps leaves the partition's new owner to do the same.
 */
export class RedisLossGuard {
  private readonly store: NotificationStore;
  private readonly ledger: NotifyLedger;
  private readonly rewindMs: number;
  private readonly now: () => number;
  private readonly logger: Logger;
  private recovering: Promise<void> | undefined;
  /** The epoch each source partition's chunk in flight began in (`topic:partition` → epoch id). */
  private readonly epochOfChunk = new Map<string, string>();

  constructor(parts: {
    store: NotificationStore;
    ledger: NotifyLedger;
    rewindMs: number;
    now: () => number;
    logger: Logger;
  }) {
    this.store = parts.store;
    this.ledger = parts.ledger;
    this.rewindMs = parts.rewindMs;
    this.now = parts.now;
    this.logger = parts.logger;
  }

  async resumeFrom(topic: string, partition: number, firstOffset: bigint): Promise<Resume | undefined> {
    const source = `${topic}:${partition}`;
    let position = await this.store.position(source);
    if (!position.epoch) {
      // One recovery a process: its partitions' chunks wait for the same one.
      await (this.recovering ??= this.recover().finally(() => (this.recovering = undefined)));
      position = await this.store.position(source);
      if (!position.epoch)
        throw new KooError('STATE_LOST', 'redis: no epoch after recovery', { retriable: true });
    }
    this.epochOfChunk.set(source, position.epoch.id);
    return resumeOf(position.epoch, position.next, firstOffset);
  }

  async handled(topic: string, partition: number, nextOffset: bigint): Promise<void> {
    const source = `${topic}:${partition}`;
    const epoch = this.epochOfChunk.get(source);
    if (epoch !== undefined) await this.store.markApplied(epoch, source, nextOffset);
  }

  private async recover(): Promise<void> {
    const owner = randomUUID();
    if (!(await this.store.lockRecovery(owner, RECOVERY_LOCK_MS)))
      throw new KooError('STATE_LOST', 'redis: another member is restoring the notification state', {
        retriable: true,
      });
    const now = this.now();
    let before: string | undefined;
    let restored = 0;
    const epoch: StateEpoch = { id: owner, rewindFromMs: null };
    try {
      before = await this.ledger.epoch();
      if (before !== undefined) {
        epoch.rewindFromMs = now - this.rewindMs;
        // Seals finished before the rewind's start may still meet replayed events (late ones, of
        // old windows): the ledger is read twice as far back.
        for await (const finished of this.ledger.finishedSince(now - 2 * this.rewindMs, now)) {
          await this.store.restoreFinished(finished);
          restored += finished.length;
        }
      }
      await this.store.beginEpoch(epoch);
    } catch (err) {
      await this.store.unlockRecovery(owner).catch(() => undefined);
      throw err;
    }
    await this.ledger.setEpoch(epoch.id);
    if (before === undefined) {
      this.logger.info({ epoch: epoch.id }, 'notification state: first epoch');
      return;
    }
    metrics.notifyStateRecoveries.inc();
    this.logger.warn(
      {
        epoch: epoch.id,
        previous: before,
        restored,
        rewindFrom: new Date(epoch.rewindFromMs!).toISOString(),
      },
      'redis lost the notification state: restored the finished jobs from the ledger; every partition replays from the rewind time',
    );
  }
}

/**
 * Pure: where a partition whose chunk starts at `firstOffset` must go back to, given its epoch and
 * the offset after what it applied in that epoch (`next`, none yet), or undefined to go on.
 */
export function resumeOf(
  epoch: StateEpoch,
  next: bigint | undefined,
  firstOffset: bigint,
): Resume | undefined {
  // Nothing applied in this epoch: after a loss, from the rewind time; on a first start, from here.
  if (next === undefined) return epoch.rewindFromMs === null ? undefined : { fromTimeMs: epoch.rewindFromMs };
  // Applied up to `next` and then committed further by a member that died: the rest was lost.
  return firstOffset > next ? { fromOffset: next } : undefined;
}
