import type { NativeAttributeValue } from '@aws-sdk/lib-dynamodb';

export interface UpdateSpec {
  /** Attributes to set; `null`/`undefined` values are removed instead. */
  set?: Record<string, NativeAttributeValue | null | undefined>;
  /** Attributes to set only where the item does not have them yet (`if_not_exists`). */
  setIfAbsent?: Record<string, NativeAttributeValue>;
  remove?: readonly string[];
  /** Numbers to add, or sets to add members to. */
  add?: Record<string, NativeAttributeValue>;
  /** Members to delete from sets. */
  delete?: Record<string, NativeAttributeValue>;
}

export interface BuiltUpdate {
  UpdateExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues?: Record<string, NativeAttributeValue>;
}

/**
 * Builds an UpdateItem expression with every name and value aliased (no clash with DynamoDB's
 * reserved words). `names` and `values` may be extended by the caller for a condition: aliases
 * made here are #u<n> and :u<n>.
 */
export function buildUpdate(spec: UpdateSpec): BuiltUpdate {
  const names: Record<string, string> = {};
  const values: Record<string, NativeAttributeValue> = {};
  let n = 0;
  const sets: string[] = [];
  const removes: string[] = [];
  const adds: string[] = [];
  const deletes: string[] = [];
  // Each attribute gets the next number; its value (if any) shares it: #u3 = :u3.
  const name = (attr: string) => {
    const alias = `#u${n}`;
    names[alias] = attr;
    return alias;
  };
  const value = (v: NativeAttributeValue) => {
    const alias = `:u${n++}`;
    values[alias] = v;
    return alias;
  };
  const removal = (attr: string) => {
    removes.push(name(attr));
    n++;
  };
  for (const [attr, v] of Object.entries(spec.set ?? {})) {
    if (v === null || v === undefined) removal(attr);
    else sets.push(`${name(attr)} = ${value(v)}`);
  }
  for (const [attr, v] of Object.entries(spec.setIfAbsent ?? {})) {
    const alias = name(attr);
    sets.push(`${alias} = if_not_exists(${alias}, ${value(v)})`);
  }
  for (const attr of spec.remove ?? []) removal(attr);
  for (const [attr, v] of Object.entries(spec.add ?? {})) adds.push(`${name(attr)} ${value(v)}`);
  for (const [attr, v] of Object.entries(spec.delete ?? {})) deletes.push(`${name(attr)} ${value(v)}`);
  const clauses = [
    sets.length ? `SET ${sets.join(', ')}` : '',
    removes.length ? `REMOVE ${removes.join(', ')}` : '',
    adds.length ? `ADD ${adds.join(', ')}` : '',
    deletes.length ? `DELETE ${deletes.join(', ')}` : '',
  ].filter(Boolean);
  return {
    UpdateExpression: clauses.join(' '),
    ExpressionAttributeNames: names,
    ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
  };
}

/** A read's ProjectionExpression over `attributes`, each aliased (#p<n>) like the updates above. */
export function projectionOf(attributes: readonly string[]): {
  ProjectionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
} {
  return {
    ProjectionExpression: attributes.map((_, i) => `#p${i}`).join(', '),
    ExpressionAttributeNames: Object.fromEntries(attributes.map((name, i) => [`#p${i}`, name])),
  };
}
