import pg from 'pg';
import type { IcebergCatalog, TableName } from './catalog.ts';

/**
 * Iceberg's SQL catalog on PostgreSQL, in the tables that Iceberg's JdbcCatalog (Spark, Flink,
 * Trino) and pyiceberg's SqlCatalog use, so they read the lake's tables by name. A table is a row
 * pointing at its current metadata file; a commit is a compare-and-swap of that pointer.
 */
export class SqlCatalog implements IcebergCatalog {
  private readonly pool: pg.Pool;
  private readonly catalogName: string;
  private ready: Promise<void> | undefined;

  constructor(url: string, catalogName: string) {
    this.pool = new pg.Pool({ connectionString: url, max: 2 });
    this.catalogName = catalogName;
  }

  /** `koo.public.koos` is table `koos` in namespace `koo.public`. */
  tableOf(topic: string): TableName {
    const dot = topic.lastIndexOf('.');
    if (dot <= 0) return { namespace: 'default', name: topic };
    return { namespace: topic.slice(0, dot), name: topic.slice(dot + 1) };
  }

  /**
   * Creates the catalog's tables where they are missing: the JdbcCatalog's schema V1 (with
   * `iceberg_type`). One statement string is one transaction, and its advisory lock makes
   * replicas that start at once take turns: concurrent `create table if not exists` of the same
   * table collide in PostgreSQL's catalog (a unique violation on pg_type).
   */
  private ensureTables(): Promise<void> {
    this.ready ??= this.pool
      .query(
        `select pg_advisory_xact_lock(hashtext('koo: iceberg catalog tables'));
         create table if not exists iceberg_tables (
           catalog_name varchar(255) not null, table_namespace varchar(255) not null,
           table_name varchar(255) not null, metadata_location varchar(1000),
           previous_metadata_location varchar(1000), iceberg_type varchar(5),
           primary key (catalog_name, table_namespace, table_name));
         create table if not exists iceberg_namespace_properties (
           catalog_name varchar(255) not null, namespace varchar(255) not null,
           property_key varchar(255) not null, property_value varchar(1000) not null,
           primary key (catalog_name, namespace, property_key))`,
      )
      .then(
        () => undefined,
        (err: unknown) => {
          this.ready = undefined; // try again on the next call
          throw err;
        },
      );
    return this.ready;
  }

  async metadataLocation(table: TableName): Promise<string | undefined> {
    await this.ensureTables();
    const { rows } = await this.pool.query<{ metadata_location: string }>(
      `select metadata_location from iceberg_tables
        where catalog_name = $1 and table_namespace = $2 and table_name = $3
          and (iceberg_type = 'TABLE' or iceberg_type is null)`,
      [this.catalogName, table.namespace, table.name],
    );
    return rows[0]?.metadata_location;
  }

  async create(table: TableName, location: string): Promise<boolean> {
    await this.ensureTables();
    await this.pool.query(
      `insert into iceberg_namespace_properties (catalog_name, namespace, property_key, property_value)
       values ($1, $2, 'exists', 'true') on conflict do nothing`,
      [this.catalogName, table.namespace],
    );
    const { rowCount } = await this.pool.query(
      `insert into iceberg_tables (catalog_name, table_namespace, table_name, metadata_location, iceberg_type)
       values ($1, $2, $3, $4, 'TABLE') on conflict do nothing`,
      [this.catalogName, table.namespace, table.name, location],
    );
    return rowCount === 1;
  }

  async swap(table: TableName, expected: string, next: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `update iceberg_tables set metadata_location = $5, previous_metadata_location = $4
        where catalog_name = $1 and table_namespace = $2 and table_name = $3 and metadata_location = $4`,
      [this.catalogName, table.namespace, table.name, expected, next],
    );
    return rowCount === 1;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
