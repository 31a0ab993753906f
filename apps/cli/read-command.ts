import type { Command } from 'commander';

/** A read path opened for one command: its queries, and what closes the clients it opened. */
export interface OpenReadPath<Q> {
  queries: Q;
  close: () => void;
}

/** Opens a read path, prints `read`'s answer as JSON, and closes the read path whatever happened. */
export async function printRead<Q>(
  open: () => OpenReadPath<Q>,
  read: (queries: Q) => Promise<unknown>,
): Promise<void> {
  const { queries, close } = open();
  try {
    console.log(JSON.stringify(await read(queries), null, 2));
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

/** A `koo query` command that prints one page: `--limit` and `--cursor`, passed to `read` with the argument. */
export function addPagedRead<Q>(
  query: Command,
  usage: string,
  description: string,
  open: () => OpenReadPath<Q>,
  read: (queries: Q, argument: string, limit: number, cursor: string | undefined) => Promise<unknown>,
): void {
  query
    .command(usage)
    .description(description)
    .option('--limit <n>', 'page size', limitOption, 20)
    .option('--cursor <cursor>', 'cursor from the previous page')
    .action((argument: string, o: { limit: number; cursor?: string }) =>
      printRead(open, (q) => read(q, argument, o.limit, o.cursor)),
    );
}
