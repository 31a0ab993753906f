import type { z } from 'zod';
import { KooError } from '../../shared/errors/koo-error.ts';

/**
 * The lake's column model: what a Parquet column holds, derived from the event schemas (zod for
 * CDC rows, Avro for reactions), never written by hand. Timestamps are epoch milliseconds in
 * rows and Parquet TIMESTAMP(MICROS) in files, UTC without a zone annotation so that DuckDB
 * reads them as TIMESTAMP (Spark, Athena and pyarrow read them as timestamps too).
 */
export type ColumnType = 'string' | 'boolean' | 'int32' | 'int64' | 'double' | 'timestamp';

export interface Column {
  name: string;
  type: ColumnType;
  nullable: boolean;
  /** Values seldom repeat from row to row (keys, free text): a dictionary would not pay. */
  distinct?: boolean;
}

/** A row as the encoder takes it: values by column name (null for a missing optional value). */
export type LakeRow = Record<string, unknown>;

/** What a schema field may say about its lake column (zod `.meta({ ... })` where the field is defined). */
export interface LakeColumnMeta {
  /** The column type, where the zod type does not say it (a timestamp parsed from a string). */
  lakeType?: ColumnType;
  /** Values seldom repeat from row to row: primary keys, unique keys, free text. */
  distinct?: boolean;
}

function unsupported(where: string, what: string): KooError {
  return new KooError('SCHEMA_UNKNOWN', `lake: no Parquet column type for ${where} (${what})`);
}

type ColumnTraits = Omit<Column, 'name'>;

function zodColumnType(name: string, schema: z.ZodType): ColumnTraits {
  const meta = (schema.meta() ?? {}) as LakeColumnMeta;
  const traits = zodColumnTraits(name, schema, meta);
  return meta.distinct ? { ...traits, distinct: true } : traits;
}

function zodColumnTraits(name: string, schema: z.ZodType, meta: LakeColumnMeta): ColumnTraits {
  if (meta.lakeType) return { type: meta.lakeType, nullable: false };
  const def = schema._zod.def as { type: string; innerType?: z.ZodType; checks?: unknown[] };
  switch (def.type) {
    case 'nullable':
    case 'optional':
      return { ...zodColumnType(name, def.innerType!), nullable: true };
    case 'default':
      return zodColumnType(name, def.innerType!);
    case 'string':
    case 'enum':
      return { type: 'string', nullable: false };
    case 'boolean':
      return { type: 'boolean', nullable: false };
    case 'number':
      return { type: (schema as z.ZodNumber).format?.includes('int') ? 'int64' : 'double', nullable: false };
    default:
      throw unsupported(`field ${name}`, `zod ${def.type}; annotate it with .meta({ lakeType })`);
  }
}

/** The columns of a zod object schema, in field order. */
export function columnsFromZod(schema: z.ZodObject): Column[] {
  return Object.entries(schema.shape).map(([name, field]) => ({
    name,
    ...zodColumnType(name, field as z.ZodType),
  }));
}

export type AvroType =
  | string
  | { type: AvroType; logicalType?: string; name?: string; symbols?: string[]; items?: unknown }
  | AvroType[];

function avroColumnType(name: string, type: AvroType): { type: ColumnType; nullable: boolean } {
  if (Array.isArray(type)) {
    const branches = type.filter((t) => t !== 'null');
    if (branches.length !== 1) throw unsupported(`field ${name}`, 'a union of more than null and one type');
    return { ...avroColumnType(name, branches[0]!), nullable: branches.length < type.length };
  }
  if (typeof type === 'object') {
    if (type.logicalType === 'timestamp-millis') return { type: 'timestamp', nullable: false };
    // Rows carry milliseconds, and decoded Avro longs are not scaled: micros would land 1000x off.
    if (type.logicalType === 'timestamp-micros')
      throw unsupported(`field ${name}`, 'timestamp-micros; use timestamp-millis');
    if (type.type === 'enum') return { type: 'string', nullable: false };
    return avroColumnType(name, type.type);
  }
  const primitive: Record<string, ColumnType> = {
    string: 'string',
    boolean: 'boolean',
    int: 'int32',
    long: 'int64',
    float: 'double',
    double: 'double',
  };
  const mapped = primitive[type];
  if (!mapped) throw unsupported(`field ${name}`, `Avro ${type}`);
  return { type: mapped, nullable: false };
}

/** The columns of an Avro record schema (its JSON form), in field order. */
export function columnsFromAvro(schema: { fields: { name: string; type: AvroType }[] }): Column[] {
  return schema.fields.map((f) => ({ name: f.name, ...avroColumnType(f.name, f.type) }));
}

/** The type of a column no schema names, from its values: the narrowest that holds them all. */
function inferredType(values: readonly unknown[]): ColumnType {
  if (values.every((v) => typeof v === 'boolean')) return 'boolean';
  if (values.every((v) => typeof v === 'bigint' || Number.isSafeInteger(v))) return 'int64';
  if (values.every((v) => typeof v === 'number')) return 'double';
  return 'string'; // mixed or structured values: as text (objects as JSON)
}

/**
 * The declared columns, then the columns that rows carry beyond them (a column added to a source
 * table after its schema here was written), typed from their values and nullable, in the order
 * rows first show them. A column whose values are all null is left out until a value arrives.
 */
export function withAddedColumns(declared: readonly Column[], rows: readonly LakeRow[]): Column[] {
  const known = new Set(declared.map((c) => c.name));
  const added = new Map<string, unknown[]>();
  for (const row of rows)
    for (const [name, value] of Object.entries(row)) {
      if (known.has(name) || value === null || value === undefined) continue;
      const values = added.get(name);
      if (values) values.push(value);
      else added.set(name, [value]);
    }
  return [
    ...declared,
    ...[...added].map(([name, values]) => ({ name, type: inferredType(values), nullable: true })),
  ];
}
