/**
 * The deployable processes of the pipeline: what the supervisor starts, what `koo status` reports,
 * what the Kubernetes and AWS definitions are rendered for. One entry per process kind; the
 * config schema is the list of variables the process reads (defaults included), so everything
 * that sets variables for it can be checked against the schema.
 */
import type { z } from 'zod';
import { contentConfigSchema, contentTopics } from './content/content-worker.ts';
import { engagementConfigSchema, engagementTopics } from './engagement/engagement-worker.ts';
import { feedConfigSchema, feedTopics } from './feed/feed-worker.ts';
import { lakeConfigSchema, lakeTopics } from './lake/lake-worker.ts';
import { notifyConfigSchema } from './notify/notify-config.ts';
import { notifyTopics } from './notify/notify-worker.ts';
import { senderConfigSchema } from './notify-sender/sender-config.ts';
import { reactionsConfigSchema, reactionsTopics } from './reactions/reactions-worker.ts';

export interface ConsumerGroupOf {
  /** The variable naming the group, and its default. */
  variable: string;
  defaultId: string;
  topics: string[];
}

export interface CatalogEntry {
  name: string;
  /** Entry point, relative to the repository root. */
  main: string;
  description: string;
  configSchema: z.ZodObject;
  /** Kafka consumers have a group (lag, replay, KEDA); the notify sender reads BullMQ instead. */
  group?: ConsumerGroupOf;
}

// Each worker's topics are the ones its module consumes, not a second list kept beside it.
const groupOf = (schema: z.ZodObject, variable: string, topics: string[]): ConsumerGroupOf => ({
  variable,
  defaultId: (schema.shape[variable] as z.ZodType<string>).parse(undefined),
  topics,
});

export const catalog: CatalogEntry[] = [
  {
    name: 'content',
    main: 'workers/content/main.ts',
    description: 'koos and users CDC → koo_content, koo_users',
    configSchema: contentConfigSchema,
    group: groupOf(contentConfigSchema, 'CONTENT_GROUP_ID', contentTopics),
  },
  {
    name: 'reactions',
    main: 'workers/reactions/main.ts',
    description: 'koo.reactions → koo_reactions and counters on koo_content',
    configSchema: reactionsConfigSchema,
    group: groupOf(reactionsConfigSchema, 'REACTIONS_GROUP_ID', reactionsTopics),
  },
  {
    name: 'engagement',
    main: 'workers/engagement/main.ts',
    description: 'reactions and koos → decayed scores, trending per language (Redis + koo_trending)',
    configSchema: engagementConfigSchema,
    group: groupOf(engagementConfigSchema, 'ENGAGEMENT_GROUP_ID', engagementTopics),
  },
  {
    name: 'feed',
    main: 'workers/feed/main.ts',
    description: 'follows and koos → koo_graph, home feeds in koo_feed',
    configSchema: feedConfigSchema,
    group: groupOf(feedConfigSchema, 'FEED_GROUP_ID', feedTopics),
  },
  {
    name: 'lake',
    main: 'workers/lake/main.ts',
    description: 'every topic → Parquet on S3',
    configSchema: lakeConfigSchema,
    group: groupOf(lakeConfigSchema, 'LAKE_GROUP_ID', lakeTopics),
  },
  {
    name: 'notify',
    main: 'workers/notify/main.ts',
    description: 'reactions, replies, follows → aggregated notification jobs in BullMQ',
    configSchema: notifyConfigSchema,
    group: groupOf(notifyConfigSchema, 'NOTIFY_GROUP_ID', notifyTopics),
  },
  {
    name: 'notify-sender',
    main: 'workers/notify-sender/main.ts',
    description: 'BullMQ notification jobs → the push transport, rate-limited',
    configSchema: senderConfigSchema,
  },
];

export function catalogEntry(name: string): CatalogEntry {
  const entry = catalog.find((e) => e.name === name);
  if (!entry) throw new Error(`unknown worker ${name} (known: ${catalog.map((e) => e.name).join(', ')})`);
  return entry;
}

/** The consumer group a worker uses under this environment (its variable, or the default). */
export function groupIdOf(
  entry: CatalogEntry,
  environment: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (!entry.group) return undefined;
  return environment[entry.group.variable] || entry.group.defaultId;
}
