import type { Command } from 'commander';
import { tableName } from '../../schemas/tables.ts';
import { contentConfigSchema } from '../../workers/content/content-worker.ts';
import { decaySettingsOf, engagementConfigSchema } from '../../workers/engagement/engagement-worker.ts';
import { feedConfigSchema } from '../../workers/feed/feed-worker.ts';
import { bodyStoreFor } from '../../workers/content/body-store.ts';
import { FeedQueries } from '../../workers/feed/queries.ts';
import { loadConfig } from '../../shared/config/load-config.ts';
import { dynamoFor } from '../../shared/dynamodb/dynamo-client.ts';
import { addPagedRead, type OpenReadPath } from './read-command.ts';

/** `koo query feed <userId>`: a user's home feed, newest first, printed as JSON. */
export function addFeedCommands(query: Command): void {
  addPagedRead(
    query,
    'feed <userId>',
    "a user's home feed, newest first (pushed entries and eminent authors' koos merged)",
    feedQueries,
    (q, userId, limit, cursor) => q.feed(userId, limit, cursor),
  );
}

function feedQueries(): OpenReadPath<FeedQueries> {
  const config = loadConfig(
    feedConfigSchema.safeExtend({
      MEDIA_BUCKET: contentConfigSchema.shape.MEDIA_BUCKET,
      ENGAGEMENT_HALF_LIFE_MINUTES: engagementConfigSchema.shape.ENGAGEMENT_HALF_LIFE_MINUTES,
      ENGAGEMENT_LANDMARK_HALF_LIVES: engagementConfigSchema.shape.ENGAGEMENT_LANDMARK_HALF_LIVES,
    }),
  );
  const dynamo = dynamoFor(config, 5_000);
  const bodies = bodyStoreFor(config);
  const queries = new FeedQueries(dynamo, {
    graphTable: tableName('graph', config.TABLE_PREFIX),
    feedTable: tableName('feed', config.TABLE_PREFIX),
    contentTable: tableName('content', config.TABLE_PREFIX),
    mediaBucket: config.MEDIA_BUCKET,
    bodies,
    cap: config.FEED_CAP,
    entryTtlMs: config.FEED_TTL_DAYS * 86_400_000,
    decay: decaySettingsOf(config),
  });
  return {
    queries,
    close: () => {
      dynamo.destroy();
      bodies.destroy();
    },
  };
}
