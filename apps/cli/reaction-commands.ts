import type { Command } from 'commander';
import { tableName } from '../../schemas/tables.ts';
import { ReactionQueries } from '../../workers/reactions/queries.ts';
import { reactionsConfigSchema } from '../../workers/reactions/reactions-worker.ts';
import { loadConfig } from '../../shared/config/load-config.ts';
import { dynamoFor } from '../../shared/dynamodb/dynamo-client.ts';
import { addPagedRead, printRead, type OpenReadPath } from './read-command.ts';

function reactionQueries(): OpenReadPath<ReactionQueries> {
  const config = loadConfig(reactionsConfigSchema);
  const dynamo = dynamoFor(config, 5_000);
  const queries = new ReactionQueries(dynamo, {
    reactionsTable: tableName('reactions', config.TABLE_PREFIX),
    contentTable: tableName('content', config.TABLE_PREFIX),
  });
  return { queries, close: () => dynamo.destroy() };
}

const print = (read: (q: ReactionQueries) => Promise<unknown>) => printRead(reactionQueries, read);

/** `koo query reactions|reacted|counts`: the reactions view, printed as JSON. */
export function addReactionCommands(query: Command): void {
  addPagedRead(
    query,
    'reactions <contentId>',
    'users who reacted to a koo, and how (paged by user id)',
    reactionQueries,
    (q, id, limit, cursor) => q.reactionsOf(id, limit, cursor),
  );
  query
    .command('reacted <contentId> <userId>')
    .description('how a user reacted to a koo (null: not at all)')
    .action((id: string, user: string) => print((q) => q.reactionOf(id, user)));
  query
    .command('counts <contentId>')
    .description("a koo's likes, shares and rekoos")
    .action((id: string) => print((q) => q.counts(id)));
}
