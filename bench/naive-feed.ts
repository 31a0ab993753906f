import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Kafka } from 'kafkajs';
import { topicNames } from '../schemas/topics.ts';
import type { Dynamo } from '../shared/dynamodb/dynamo-client.ts';
import { runPerRecordConsumer } from './naive-consumer.ts';
import { mapConcurrent } from '../shared/runtime/backoff.ts';
import { feedEntry, kooJob, type FeedSettings } from '../workers/feed/decide.ts';
import { decodeFeedEvent } from '../workers/feed/feed-worker.ts';
import type { GraphStore } from '../workers/feed/graph-store.ts';

/**
 * The baseline the feed worker is measured against: one koo at a time (eachMessage), its
 * followers paged the same way, and one PutItem per follower with the same number in flight.
 * No checkpoint, no trims, no eminent pull: it does less than the real worker.
 */
export async function runNaiveFanOut(
  kafka: Kafka,
  dynamo: Dynamo,
  graph: GraphStore,
  feedTable: string,
  groupId: string,
  settings: FeedSettings,
  concurrency: number,
  onDone: (contentId: string, entries: number) => void,
): Promise<() => Promise<void>> {
  return runPerRecordConsumer(kafka, groupId, [topicNames.koos], async (raw, heartbeat) => {
    const event = decodeFeedEvent(raw);
    const job = event?.kind === 'koo' ? kooJob(event.change, Date.now(), settings) : null;
    if (job?.kind !== 'push') return;
    let after: string | undefined;
    let entries = 0;
    do {
      const page = await graph.followers(job.koo.authorId, 5000, after);
      await mapConcurrent(page.followerIds, concurrency, (follower) =>
        dynamo.call('PutItem', (doc) =>
          doc.send(new PutCommand({ TableName: feedTable, Item: feedEntry(follower, job.koo, settings) })),
        ),
      );
      entries += page.followerIds.length;
      after = page.next;
      await heartbeat();
    } while (after);
    onDone(job.koo.contentId, entries);
  });
}
