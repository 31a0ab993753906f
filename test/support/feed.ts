import { authorKoosId } from '../../workers/feed/decide.ts';
import { decaySettingsOf, loadEngagementConfig } from '../../workers/engagement/engagement-worker.ts';
import { GetCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { tableName } from '../../schemas/tables.ts';
import { fanOutRecordId, feedAttr as F } from '../../schemas/koo-feed.ts';
import type { Item } from '../../shared/dynamodb/batch-writer.ts';
import { GraphStore } from '../../workers/feed/graph-store.ts';
import { FeedQueries } from '../../workers/feed/queries.ts';
import { testBodyStore } from './content.ts';
import { testDynamo } from './stack-env.ts';

/** Reads of koo_feed and koo_graph (under a TABLE_PREFIX) for assertions: the read path, and raw items. */
export function feedReadPath(cap: number, prefix = '') {
  const dynamo = testDynamo();
  const graph = new GraphStore(dynamo, { graph: tableName('graph', prefix) }, 8);
  const queries = new FeedQueries(dynamo, {
    graphTable: tableName('graph', prefix),
    feedTable: tableName('feed', prefix),
    contentTable: tableName('content', prefix),
    mediaBucket: 'koo-media',
    bodies: testBodyStore(),
    cap,
    decay: decaySettingsOf(loadEngagementConfig(process.env)),
    entryTtlMs: 30 * 86_400_000,
  });
  /** Every item a request (Query or Scan) returns, all pages. */
  const all = async (
    send: (start: Item | undefined) => Promise<{ Items?: Item[]; LastEvaluatedKey?: Item }>,
  ) => {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const out = await send(start);
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  };
  /** Every stored entry of a user's feed, newest first. */
  const entries = (userId: string) =>
    all((start) =>
      dynamo.call('Query', (doc) =>
        doc.send(
          new QueryCommand({
            TableName: tableName('feed', prefix),
            KeyConditionExpression: '#id = :id',
            ExpressionAttributeNames: { '#id': F.userId },
            ExpressionAttributeValues: { ':id': userId },
            ScanIndexForward: false,
            ConsistentRead: true,
            ExclusiveStartKey: start,
          }),
        ),
      ),
    );
  /** Every feed entry of a koo, over all feeds (a scan: a duplicate under another key would show); not the author's index. */
  const entriesOfKoo = (contentId: string) =>
    all((start) =>
      dynamo.call('Scan', (doc) =>
        doc.send(
          new ScanCommand({
            TableName: tableName('feed', prefix),
            FilterExpression: '#c = :c AND NOT begins_with(#u, :index)',
            ExpressionAttributeNames: { '#c': F.contentId, '#u': F.userId },
            ExpressionAttributeValues: { ':c': contentId, ':index': authorKoosId('') },
            ExclusiveStartKey: start,
          }),
        ),
      ),
    );
  const contentIds = async (userId: string) => (await entries(userId)).map((i) => i[F.contentId] as string);
  const fanOutRecord = async (contentId: string) =>
    (
      await dynamo.call('GetItem', (doc) =>
        doc.send(
          new GetCommand({
            TableName: tableName('feed', prefix),
            Key: { [F.userId]: fanOutRecordId(contentId), [F.key]: '#' },
            ConsistentRead: true,
          }),
        ),
      )
    ).Item;
  const user = async (userId: string) =>
    (
      await dynamo.call('GetItem', (doc) =>
        doc.send(
          new GetCommand({
            TableName: tableName('users', prefix),
            Key: { id: userId },
            ConsistentRead: true,
          }),
        ),
      )
    ).Item;
  return { dynamo, graph, queries, entries, entriesOfKoo, contentIds, fanOutRecord, user };
}
