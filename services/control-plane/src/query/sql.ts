/** A query AST as a parameterised SQL condition on flow_records: values only ever travel as parameters. */
import { fieldNamed } from './fields.js';
import type { Query } from './parse.js';

/** Collects the values of one statement; add() answers the placeholder ($1, $2 …) of its value. */
export class SqlParams {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    return `$${this.values.push(value)}`;
  }
}

/**
 * The condition. NOT sees a missing value (NULL) as not matching, like the in-memory predicate:
 * `NOT coalesce(…, false)`, so `NOT dstport:80` keeps records without ports.
 */
export function querySql(query: Query, params: SqlParams): string {
  switch (query.type) {
    case 'and':
    case 'or':
      return `(${querySql(query.left, params)} ${query.type.toUpperCase()} ${querySql(query.right, params)})`;
    case 'not':
      return `NOT coalesce(${querySql(query.query, params)}, false)`;
    case 'match': {
      const value = params.add(query.value);
      if (query.field === 'address')
        return `(${addressSql('srcaddr', value, query.value)} OR ${addressSql('dstaddr', value, query.value)})`;
      const field = fieldNamed(query.field)!;
      return field.kind === 'address'
        ? addressSql(field.column, value, query.value)
        : `${field.column} ${query.op} ${value}`;
    }
  }
}

/** The flow_records columns a query reads (a bare address reads both addresses); none without a query. */
export function queryColumns(query: Query | undefined): Set<string> {
  if (!query) return new Set();
  if (query.type === 'not') return queryColumns(query.query);
  if (query.type !== 'match') return new Set([...queryColumns(query.left), ...queryColumns(query.right)]);
  return new Set(query.field === 'address' ? ['srcaddr', 'dstaddr'] : [fieldNamed(query.field)!.column]);
}

/** An address is an equality (the index's fast path), a CIDR a containment. */
const addressSql = (column: string, placeholder: string, value: string | number) =>
  `${column} ${String(value).includes('/') ? '<<=' : '='} ${placeholder}::inet`;
