import type { Dynamo } from './dynamo-client.ts';

/**
 * What a worker's DynamoDB adapter holds: the shared client, the names of the tables it writes
 * (schemas/tables.ts, with the deployment's prefix), and how many requests of a batch it keeps in
 * flight (SINK_CONCURRENCY). Stores decide nothing; their workers' pure `decide` modules do.
 */
export abstract class DynamoStore<Tables> {
  readonly tables: Tables;
  protected readonly dynamo: Dynamo;
  protected readonly concurrency: number;

  constructor(dynamo: Dynamo, tables: Tables, concurrency: number) {
    this.dynamo = dynamo;
    this.tables = tables;
    this.concurrency = concurrency;
  }
}

/** What a read path (the `koo query` commands, an app's API) holds: the shared client and where to read. */
export abstract class DynamoQueries<Options> {
  protected readonly dynamo: Dynamo;
  protected readonly options: Options;

  constructor(dynamo: Dynamo, options: Options) {
    this.dynamo = dynamo;
    this.options = options;
  }
}
