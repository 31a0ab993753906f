import type { Command } from 'commander';
import { tableName } from '../../schemas/tables.ts';
import { contentConfigSchema } from '../../workers/content/content-worker.ts';
import { bodyStoreFor } from '../../workers/content/body-store.ts';
import { ContentQueries } from '../../workers/content/queries.ts';
import { loadConfig } from '../../shared/config/load-config.ts';
import { dynamoFor } from '../../shared/dynamodb/dynamo-client.ts';

function contentQueries(): { queries: ContentQueries; close: () => void } {
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

async function print(run: (q: ContentQueries) => Promise<unknown>): Promise<void> {
  const { queries, close } = contentQueries();
  try {
    console.log(JSON.stringify(await run(queries), null, 2));
  } finally {
    close();
  }
}

export const limitOption = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1000)
    throw new Error('--limit must be a whole number from 1 to 1000');
  return n;
};

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
  query
    .command('by-lang <lang>')
    .description('koos in a language, newest first')
    .option('--limit <n>', 'page size', limitOption, 20)
    .option('--cursor <cursor>', 'cursor from the previous page')
    .action((lang: string, o: { limit: number; cursor?: string }) =>
      print((q) => q.koosByLang(lang, o.limit, o.cursor)),
    );
  query
    .command('by-creator <userId>')
    .description("a creator's koos, newest first")
    .option('--limit <n>', 'page size', limitOption, 20)
    .option('--cursor <cursor>', 'cursor from the previous page')
    .action((user: string, o: { limit: number; cursor?: string }) =>
      print((q) => q.koosByCreator(user, o.limit, o.cursor)),
    );
  return query;
}
