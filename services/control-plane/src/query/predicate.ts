/** A query AST as a test of one FlowRecord in memory (the live tail), agreeing with its SQL. */
import type { FlowRecord } from '@flowlogs/contracts';
import { cidrContains, parseCidr, parseIp } from '../ip.js';
import { fieldNamed } from './fields.js';
import type { Query } from './parse.js';

export type RecordPredicate = (record: FlowRecord) => boolean;

/** Compiles the query once; a missing (null) value never matches a term. */
export function queryPredicate(query: Query | undefined): RecordPredicate {
  if (!query) return () => true;
  switch (query.type) {
    case 'and': {
      const [left, right] = [queryPredicate(query.left), queryPredicate(query.right)];
      return (r) => left(r) && right(r);
    }
    case 'or': {
      const [left, right] = [queryPredicate(query.left), queryPredicate(query.right)];
      return (r) => left(r) || right(r);
    }
    case 'not': {
      const inner = queryPredicate(query.query);
      return (r) => !inner(r);
    }
    case 'match': {
      if (query.field === 'address') {
        const inside = addressTest(String(query.value));
        return (r) => inside(r.srcaddr) || inside(r.dstaddr);
      }
      const field = fieldNamed(query.field)!;
      if (field.kind === 'address') {
        const inside = addressTest(String(query.value));
        return (r) => inside(r[field.key] as string | null);
      }
      const { op, value } = query;
      return (r) => {
        const v = r[field.key];
        if (v === null || v === undefined) return false;
        switch (op) {
          case '=':
            return v === value;
          case '>':
            return v > value;
          case '>=':
            return v >= value;
          case '<':
            return v < value;
          case '<=':
            return v <= value;
        }
      };
    }
  }
}

/** Whether an address lies in the CIDR (or equals the address) `spec`; the parser has checked it is one. */
function addressTest(spec: string): (address: string | null) => boolean {
  const network = parseCidr(spec) ?? { ...parseIp(spec)!, prefix: parseIp(spec)!.version === 4 ? 32 : 128 };
  return (address) => {
    const ip = address === null ? undefined : parseIp(address);
    return ip !== undefined && cidrContains(network, ip);
  };
}
