import type { Command } from 'commander';
import { tableName } from '../../schemas/tables.ts';
import { contentConfigSchema } from '../../workers/content/content-worker.ts';
import { bodyStoreFor } from '../../workers/content/body-store.ts';
import { ContentQueries } from '../../workers/content/queries.ts';
import { loadConfig } from '../../shared/config/load-config.ts';
import { dynamoFor } from '../../shared/dynamodb/dynamo-client.ts';
import { addPagedRead, printRead, type OpenReadPath } from './read-command.ts';

function contentQueries(): OpenReadPath<ContentQueries> {
  const config = loadConfig(contentConfigSchema);
  const dynamo = dynamoFor(config, 5_000);
  const bodies = bodyStoreFor(config);
  const queries = new ContentQueries(dynamo, {
    contentTable: tableName('content', config.TABLE_PREFIX),
    mediaBucket: config.MEDIA_BUCKET,
    bodies,
  });
  return {
    queries,
    close: () => {
      dynamo.destroy();
      bodies.destroy();
    },
  };
}

const print = (read: (q: ContentQueries) => Promise<unknown>) => printRead(contentQueries, read);

/** `koo query ...`: the read path's access patterns, printed as JSON. Returns the `query` command for other views' reads. */
export function addQueryCommands(program: Command): Command {
  const query = program.command('query').description('read the DynamoDB views (prints JSON)');
  query
    .command('koo <contentId>')
    .description('a koo by its id')
    .action((id: string) => print((q) => q.getKoo(id)));
  query
    .command('thread <contentId>')
    .description("a koo with its parent and super-parent (the thread's root)")
    .action((id: string) => print((q) => q.getThread(id)));
  addPagedRead(
    query,
    'by-lang <lang>',
    'koos in a language, newest first',
    contentQueries,
    (q, lang, limit, cursor) => q.koosByLang(lang, limit, cursor),
  );
  addPagedRead(
    query,
    'by-creator <userId>',
    "a creator's koos, newest first",
    contentQueries,
    (q, user, limit, cursor) => q.koosByCreator(user, limit, cursor),
  );
  return query;
}
