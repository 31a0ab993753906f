import avro from 'avsc';
import { KooError } from '../errors/koo-error.ts';

/** A problem with one field of a record: `field` is its path (`a.b` for nested fields). */
export interface FieldProblem {
  field: string;
  problem: string;
}

/** What is known of a record besides its value: when Kafka got it (its timestamp), when known. */
export interface RecordContext {
  writtenAtMs?: number;
}

/**
 * What a reader accepts, built from the reader's Avro schema: a value is projected onto the
 * schema's fields by name (fields the reader does not know are dropped, missing fields take their
 * default, as Avro schema resolution does) and checked against each field's type, so a newer or
 * older writer's record is read field by field and a problem is reported with the field's name.
 */
export class AvroContract<T> {
  readonly type: avro.types.RecordType;
  // Stored untyped so that a contract of T is also one of any supertype (read stays typed).
  private readonly check: (value: unknown, context: RecordContext) => FieldProblem | undefined;
  /** Fields the writer has beyond the reader's schema are kept (see `loose`). */
  private keepsUnknownFields = false;

  /** `check` adds what Avro cannot say (an id must not be empty, a time must be near the record's). */
  constructor(
    schema: avro.Schema,
    check: (value: T, context: RecordContext) => FieldProblem | undefined = () => undefined,
  ) {
    const type = avro.Type.forSchema(schema);
    if (!(type instanceof avro.types.RecordType)) throw new Error(`${type.name ?? 'schema'} is not a record`);
    this.type = type;
    this.check = (value, context) => check(value as T, context);
  }

  /**
   * This contract, keeping the fields a writer has beyond the reader's schema (unchecked, after
   * the reader's own), as zod's `.loose()` does: for a sink that archives events (the lake), a
   * field producers added reaches it before the schema here has the field.
   */
  loose(): AvroContract<T & Record<string, unknown>> {
    const keeping = Object.create(this) as AvroContract<T & Record<string, unknown>>;
    keeping.keepsUnknownFields = true;
    return keeping;
  }

  /** The value as the reader's type, or a VALIDATION_FAILED error naming the first bad field. */
  read(value: unknown, context: RecordContext = {}): T {
    if (typeof value !== 'object' || value === null) {
      throw this.invalid({ field: '(record)', problem: `expected a record, got ${describe(value)}` });
    }
    const input = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const field of this.type.fields) {
      const given = input[field.name];
      const v = given === undefined ? field.defaultValue() : given;
      if (v === undefined) throw this.invalid({ field: field.name, problem: 'missing' });
      let found: FieldProblem | undefined;
      field.type.isValid(v, {
        errorHook: (path, bad, type) => {
          found ??= {
            field: [field.name, ...path].join('.'),
            problem: `${expected(type)}, got ${describe(bad)}`,
          };
        },
      });
      if (found) throw this.invalid(found);
      out[field.name] = v;
    }
    if (this.keepsUnknownFields)
      for (const [name, v] of Object.entries(input)) if (!Object.hasOwn(out, name)) out[name] = v;
    const problem = this.check(out, context);
    if (problem) throw this.invalid(problem);
    return out as T;
  }

  private invalid({ field, problem }: FieldProblem): KooError {
    return new KooError('VALIDATION_FAILED', `invalid ${this.type.name ?? 'record'}: ${field}: ${problem}`, {
      details: { field },
    });
  }
}

function expected(type: avro.Type): string {
  if (type instanceof avro.types.EnumType) return `expected one of ${type.symbols.join(', ')}`;
  return `expected Avro ${type.typeName}`;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const shown = JSON.stringify(value) ?? String(value);
  return shown.length > 80 ? `${shown.slice(0, 77)}...` : shown;
}
