/**
 * TypeScript types from Avro schemas, so the .avsc file stays the single source of an event's
 * shape: `node schemas/avro-codegen.ts` rewrites every `<name>.generated.ts` listed below, and a
 * unit test fails when a generated file and its schema disagree.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import prettier from 'prettier';

type AvroSchema = string | AvroSchema[] | { type: string; [key: string]: unknown };

interface FieldSchema {
  name: string;
  type: AvroSchema;
  doc?: string;
  default?: unknown;
}

/** The schemas that have generated types, relative to this folder. */
export const generatedSchemas = ['reaction.avsc'] as const;

const primitives: Record<string, string> = {
  null: 'null',
  boolean: 'boolean',
  int: 'number',
  long: 'number', // avsc reads longs as numbers (exact up to 2^53, ample for epoch milliseconds)
  float: 'number',
  double: 'number',
  bytes: 'Buffer',
  string: 'string',
};

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);
const docComment = (doc: unknown, indent = '') => (typeof doc === 'string' ? `${indent}/** ${doc} */\n` : '');

/** Generates the declarations for one record schema (named enums become a symbol list and a union type). */
export function typeScriptForAvro(schema: AvroSchema, sourceFile: string): string {
  const declarations: string[] = [];
  const typeOf = (s: AvroSchema): string => {
    if (typeof s === 'string') {
      const primitive = primitives[s];
      if (!primitive) throw new Error(`${sourceFile}: named type references (${s}) are not supported`);
      return primitive;
    }
    if (Array.isArray(s)) return s.map(typeOf).join(' | ');
    switch (s.type) {
      case 'enum': {
        const name = s.name as string;
        const symbols = (s.symbols as string[]).map((v) => `'${v}'`).join(', ');
        declarations.push(
          `${docComment(s.doc)}export const ${lowerFirst(name)}Symbols = [${symbols}] as const;\n` +
            `export type ${name} = (typeof ${lowerFirst(name)}Symbols)[number];\n`,
        );
        return name;
      }
      case 'record': {
        const fields = (s.fields as FieldSchema[])
          .map((f) => `${docComment(f.doc, '  ')}  ${f.name}: ${typeOf(f.type)};\n`)
          .join('');
        declarations.push(`${docComment(s.doc)}export interface ${s.name as string} {\n${fields}}\n`);
        return s.name as string;
      }
      case 'array':
        return `Array<${typeOf(s.items as AvroSchema)}>`;
      case 'map':
        return `Record<string, ${typeOf(s.values as AvroSchema)}>`;
      default:
        return typeOf(s.type);
    }
  };
  typeOf(schema);
  const header =
    `// Generated from schemas/${sourceFile} by \`node schemas/avro-codegen.ts\`: edit the schema, then run it.\n` +
    `// test/unit/avro-codegen.test.ts fails when this file and the schema disagree.\n`;
  return [header, ...declarations].join('\n');
}

/** The generated file for a schema, formatted as the repository's prettier config says. */
export async function generatedFile(schemaFile: string): Promise<{ path: string; text: string }> {
  const schemaPath = new URL(schemaFile, import.meta.url);
  const path = new URL(basename(schemaFile, '.avsc') + '.generated.ts', import.meta.url).pathname;
  const text = typeScriptForAvro(JSON.parse(readFileSync(schemaPath, 'utf8')) as AvroSchema, schemaFile);
  const options = await prettier.resolveConfig(path);
  return { path, text: await prettier.format(text, { ...options, parser: 'typescript' }) };
}

if (import.meta.main) {
  for (const schemaFile of generatedSchemas) {
    const { path, text } = await generatedFile(schemaFile);
    writeFileSync(path, text);
    console.log(`wrote ${path}`);
  }
}
