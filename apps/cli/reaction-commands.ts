import type { Command } from 'commander';
import { tableName } from '../../schemas/tables.ts';
import { ReactionQueries } from '../../workers/reactions/queries.ts';
import { reactionsConfigSchema } from '../../workers/reactions/reactions-worker.ts';
import { loadConfig } from '../../shared/config/load-config.ts';
import { dynamoFor } from '../../shared/dynamodb/dynamo-client.ts';
import { limitOption } from './query-commands.ts';

async function print(run: (q: ReactionQueries) => Promise<unknown>): Promise<void> {
  const config = loadConfig(reactionsConfigSchema);
  const dynamo = dynamoFor(config, 5_000);
  const queries = new ReactionQueries(dynamo, {
    reactionsTable: tableName('reactions', config.TABLE_PREFIX),
    contentTable: tableName('content', config.TABLE_PREFIX),
  });
  try {
    console.log(JSON.stringify(await run(queries), null, 2));
  } finally {
    dynamo.destroy();
  }
}

/** `koo query reactions|reacted|counts`: the reactions view, printed as JSON. */
export function addReactionCommands(query: Command): void {
  query
    .command('reactions <contentId>')
    .description('users who reacted to a koo, and how (paged by user id)')
    .option('--limit <n>', 'page size', limitOption, 20)
    .option('--cursor <cursor>', 'cursor from the previous page')
    .action((id: string, o: { limit: number; cursor?: string }) =>
      print((q) => q.reactionsOf(id, o.limit, o.cursor)),
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
