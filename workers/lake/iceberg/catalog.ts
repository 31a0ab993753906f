/** A table's name in a catalog: its namespace (a Glue database) and its name there. */
export interface TableName {
  namespace: string;
  name: string;
}

/**
 * Where a table's current metadata file is recorded: a commit writes a new metadata file, then
 * swaps the catalog's pointer to it if it still points at the one the commit read. Decides nothing.
 */
export interface IcebergCatalog {
  /** The topic's table in this catalog. */
  tableOf(topic: string): TableName;
  /** The table's current metadata file, or undefined when the catalog has no such table. */
  metadataLocation(table: TableName): Promise<string | undefined>;
  /** Registers a new table at `location`; false when another writer registered it first. */
  create(table: TableName, location: string): Promise<boolean>;
  /** Points the table at `next` if it still points at `expected`: false when another commit came first. */
  swap(table: TableName, expected: string, next: string): Promise<boolean>;
  close(): Promise<void>;
}
