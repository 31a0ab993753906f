import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tables, type TableDefinition } from '../../schemas/tables.ts';

/**
 * A DynamoDB HTTP proxy in front of the local server that adds what the local server leaves out:
 * DynamoDB cancels a transaction with `TransactionConflict` when another transaction on one of its
 * items is still in flight (the local server runs them one after the other on SQLite, so contention
 * that costs retries on AWS costs nothing here). It also counts the writes each item receives, so a
 * benchmark can name the hottest item: what a single DynamoDB partition (1,000 WCU/s) must absorb.
 */
export interface ConflictProxy {
  endpoint: string;
  /** Transactions cancelled because another one on an item was in flight. */
  conflicts: number;
  transactions: number;
  /** Writes per item (`table/key`): single-item writes and transactions' write actions. */
  writesPerItem: Map<string, number>;
  close(): Promise<void>;
}

const singleWrites = new Set(['PutItem', 'UpdateItem', 'DeleteItem']);

type Action = { TableName: string; Key?: Record<string, unknown>; Item?: Record<string, unknown> };

function definitionOf(table: string): TableDefinition | undefined {
  return Object.values(tables).find((t: TableDefinition) => table.endsWith(t.name));
}

/** `table/key` of a transaction action, from the table's key attributes (the item for a Put). */
export function itemOf(action: Action): string {
  const def = definitionOf(action.TableName);
  const source = action.Key ?? action.Item ?? {};
  const keys = def
    ? [def.partitionKey.name, def.sortKey?.name].filter((k) => k !== undefined)
    : Object.keys(source);
  return `${action.TableName}/${keys.map((k) => JSON.stringify(source[k])).join('/')}`;
}

function transactionItems(body: string): { items: string[]; writes: string[] } {
  const parsed = JSON.parse(body) as { TransactItems: Record<string, Action>[] };
  const items: string[] = [];
  const writes: string[] = [];
  for (const entry of parsed.TransactItems) {
    const [kind, action] = Object.entries(entry)[0]!;
    const item = itemOf(action);
    items.push(item);
    if (kind !== 'ConditionCheck') writes.push(item);
  }
  return { items, writes };
}

function conflictAnswer(res: ServerResponse, items: readonly string[], busy: ReadonlySet<string>): void {
  const reasons = items.map((i) =>
    busy.has(i)
      ? { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' }
      : { Code: 'None' },
  );
  res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
  res.end(
    JSON.stringify({
      __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
      message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`,
      CancellationReasons: reasons,
    }),
  );
}

export async function startConflictProxy(target: string): Promise<ConflictProxy> {
  const upstream = new URL(target);
  const inFlight = new Map<string, number>();
  const state = { conflicts: 0, transactions: 0, writesPerItem: new Map<string, number>() };
  const countWrite = (item: string) =>
    state.writesPerItem.set(item, (state.writesPerItem.get(item) ?? 0) + 1);

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer) =>
    new Promise<void>((resolve) => {
      const out = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.on('end', resolve);
        },
      );
      out.on('error', (err) => {
        res.writeHead(502);
        res.end(String(err));
        resolve();
      });
      out.end(body);
    });

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      if (operation !== 'TransactWriteItems') {
        if (singleWrites.has(operation)) countWrite(itemOf(JSON.parse(body.toString('utf8')) as Action));
        void forward(req, res, body);
        return;
      }
      const { items, writes } = transactionItems(body.toString('utf8'));
      state.transactions++;
      const busy = new Set(items.filter((i) => inFlight.has(i)));
      if (busy.size > 0) {
        state.conflicts++;
        conflictAnswer(res, items, busy);
        return;
      }
      for (const i of items) inFlight.set(i, (inFlight.get(i) ?? 0) + 1);
      for (const w of writes) countWrite(w);
      void forward(req, res, body).finally(() => {
        for (const i of items) {
          const n = inFlight.get(i)! - 1;
          if (n === 0) inFlight.delete(i);
          else inFlight.set(i, n);
        }
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
