import type { Command } from 'commander';
import { tableName } from '../../schemas/tables.ts';
import {
  decaySettingsOf,
  engagementConfigSchema,
  engagementStores,
} from '../../workers/engagement/engagement-worker.ts';
import { EngagementQueries } from '../../workers/engagement/queries.ts';
import { loadConfig } from '../../shared/config/load-config.ts';
import { limitOption, printRead, type OpenReadPath } from './read-command.ts';

function engagementQueries(): OpenReadPath<EngagementQueries> {
  const config = loadConfig(engagementConfigSchema);
  const { dynamo, redis, trending } = engagementStores(config);
  const queries = new EngagementQueries(dynamo, {
    contentTable: tableName('content', config.TABLE_PREFIX),
    trending,
    decay: decaySettingsOf(config),
  });
  return {
    queries,
    close: () => {
      redis.disconnect();
      dynamo.destroy();
    },
  };
}

const print = (read: (q: EngagementQueries) => Promise<unknown>) => printRead(engagementQueries, read);

/** `koo query score|trending`: engagement reads (the score decayed to now), printed as JSON. */
export function addEngagementCommands(program: Command): void {
  // Joins `koo query` (query-commands.ts creates it) so the read path stays under one verb.
  const query = program.commands.find((c) => c.name() === 'query') ?? program.command('query');
  query
    .command('score <contentId>')
    .description("a koo's engagement score, decayed to now")
    .action((id: string) => print((q) => q.score(id)));
  query
    .command('trending <lang>')
    .description('trending koos of a language (* for all), with their scores now')
    .option('--limit <n>', 'how many', limitOption, 20)
    .action((lang: string, o: { limit: number }) => print((q) => q.trendingKoos(lang, o.limit)));
}
