import {
  AlreadyExistsException,
  ConcurrentModificationException,
  CreateTableCommand,
  EntityNotFoundException,
  GetTableCommand,
  GlueClient,
  UpdateTableCommand,
  type TableInput,
} from '@aws-sdk/client-glue';
import { localCredentials } from '../../../shared/aws/credentials.ts';
import { KooError } from '../../../shared/errors/koo-error.ts';
import type { IcebergCatalog, TableName } from './catalog.ts';

/**
 * The AWS Glue Data Catalog, as Iceberg's GlueCatalog keeps tables there (Athena, EMR Spark,
 * Trino and pyiceberg read them): a table of type ICEBERG whose `metadata_location` parameter
 * points at its current metadata file. A commit is a compare-and-swap: the update names the
 * table version it read (`VersionId`), and Glue refuses it when another update came first.
 * The database is the deployment's (the CloudFormation stack creates it); tables are created here.
 */
export class GlueCatalog implements IcebergCatalog {
  private readonly glue: GlueClient;
  private readonly database: string;
  /** Per table, what it was when last read: a swap from that location needs no second read. */
  private readonly lastRead = new Map<string, GlueTable>();

  constructor(options: { database: string; region: string; endpoint: string | undefined }) {
    this.database = options.database;
    this.glue = new GlueClient({
      region: options.region,
      endpoint: options.endpoint,
      ...localCredentials(options.endpoint),
    });
  }

  /** Glue has one level of namespaces and lower-case names: `koo.public.koos` is `<database>.koo_public_koos`. */
  tableOf(topic: string): TableName {
    return { namespace: this.database, name: topic.toLowerCase().replace(/[^a-z0-9_]/g, '_') };
  }

  async metadataLocation(table: TableName): Promise<string | undefined> {
    return (await this.current(table))?.location;
  }

  async create(table: TableName, location: string): Promise<boolean> {
    try {
      await this.glue.send(
        new CreateTableCommand({
          DatabaseName: table.namespace,
          TableInput: tableInput(table, location, {}),
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof AlreadyExistsException) return false;
      throw err;
    }
  }

  async swap(table: TableName, expected: string, next: string): Promise<boolean> {
    const read = this.lastRead.get(`${table.namespace}.${table.name}`);
    const found = read?.location === expected ? read : await this.current(table);
    if (found?.location !== expected) return false;
    try {
      await this.glue.send(
        new UpdateTableCommand({
          DatabaseName: table.namespace,
          TableInput: tableInput(table, next, { ...found.parameters, previous_metadata_location: expected }),
          VersionId: found.versionId,
          // Each commit would otherwise keep a copy of the table (Glue's versions are limited).
          SkipArchive: true,
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConcurrentModificationException) return false;
      throw err;
    }
  }

  /** The table's metadata file and version; undefined when Glue has no such table. */
  private async current(table: TableName): Promise<GlueTable | undefined> {
    const key = `${table.namespace}.${table.name}`;
    this.lastRead.delete(key);
    try {
      const { Table: found } = await this.glue.send(
        new GetTableCommand({ DatabaseName: table.namespace, Name: table.name }),
      );
      const parameters = found?.Parameters ?? {};
      if (parameters.table_type?.toUpperCase() !== 'ICEBERG' || !parameters.metadata_location)
        throw new KooError(
          'CONFIG_INVALID',
          `Glue table ${table.namespace}.${table.name} exists but is not an Iceberg table (no table_type ICEBERG and metadata_location)`,
        );
      const read = { location: parameters.metadata_location, versionId: found?.VersionId, parameters };
      this.lastRead.set(key, read);
      return read;
    } catch (err) {
      if (err instanceof EntityNotFoundException) return undefined;
      throw err;
    }
  }

  async close(): Promise<void> {
    this.glue.destroy();
  }
}

/** What a read of a table found: its current metadata file, the version to name in an update, its parameters. */
interface GlueTable {
  location: string;
  versionId: string | undefined;
  parameters: Record<string, string>;
}

/** An Iceberg table as Glue holds it: the pointer in its parameters, its location beside. */
function tableInput(
  table: TableName,
  metadataLocation: string,
  parameters: Record<string, string>,
): TableInput {
  return {
    Name: table.name,
    TableType: 'EXTERNAL_TABLE',
    Parameters: { ...parameters, table_type: 'ICEBERG', metadata_location: metadataLocation },
    // The table's root: its metadata files are under `<location>/metadata/`.
    StorageDescriptor: { Location: metadataLocation.replace(/\/metadata\/[^/]+$/, '') },
  };
}
