/**
 * The query language of record search, close to what CLS users type: bare addresses and CIDRs
 * (source or destination), `field:value`, `field:>n` (>= < <=), ranges `field:[a TO b]` (`{}`
 * exclusive, `*` open), AND / OR / NOT in any case (AND implied between terms; NOT binds tightest,
 * then AND, then OR), parentheses and quoted values. Pure: a string in, an AST or a QueryError out.
 */
import type { FieldName } from '@flowlogs/contracts';
import { parseCidr, parseIp } from '../ip.js';
import { FIELDS, fieldNamed, PROTOCOLS, type Field } from './fields.js';

export type Comparison = '=' | '>' | '>=' | '<' | '<=';

/** `address` is the pseudo-field of a bare address: srcaddr or dstaddr. */
export type Query =
  | { type: 'and' | 'or'; left: Query; right: Query }
  | { type: 'not'; query: Query }
  | { type: 'match'; field: FieldName | 'address'; op: Comparison; value: string | number };

/** A query that cannot be parsed: the message names the position (0-based) and what was expected. */
export class QueryError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
  }
}

interface Token {
  kind: 'word' | 'quoted' | '(' | ')' | '[' | ']' | '{' | '}' | 'end';
  text: string;
  pos: number;
}

const PUNCTUATION = '()[]{}';

function tokenize(q: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i];
    if (/\s/.test(c)) {
      i++;
    } else if (PUNCTUATION.includes(c)) {
      tokens.push({ kind: c as Token['kind'], text: c, pos: i++ });
    } else if (c === '"') {
      const pos = i++;
      let text = '';
      while (i < q.length && q[i] !== '"') {
        if (q[i] === '\\' && i + 1 < q.length) i++; // \" and \\ stand for themselves
        text += q[i++];
      }
      if (i >= q.length) throw new QueryError(`unterminated quoted value at ${pos}; expected a closing "`, pos);
      i++;
      tokens.push({ kind: 'quoted', text, pos });
    } else {
      const pos = i;
      while (i < q.length && !/\s/.test(q[i]) && !PUNCTUATION.includes(q[i]) && q[i] !== '"') i++;
      tokens.push({ kind: 'word', text: q.slice(pos, i), pos });
    }
  }
  tokens.push({ kind: 'end', text: '', pos: q.length });
  return tokens;
}

const describe = (t: Token) =>
  t.kind === 'end' ? 'end of query' : JSON.stringify(t.kind === 'quoted' ? `"${t.text}"` : t.text);
const unexpected = (t: Token, expected: string) =>
  new QueryError(`unexpected ${describe(t)} at ${t.pos}; expected ${expected}`, t.pos);
const isKeyword = (t: Token, word: 'AND' | 'OR' | 'NOT' | 'TO') => t.kind === 'word' && t.text.toUpperCase() === word;
const isAddress = (s: string) => parseIp(s) !== undefined || parseCidr(s) !== undefined;

/** The AST of `q`; undefined when it is blank (no condition). */
export function parseQuery(q: string): Query | undefined {
  const tokens = tokenize(q);
  let i = 0;
  const peek = () => tokens[i];
  const next = () => tokens[i++];
  const startsTerm = (t: Token) =>
    t.kind === 'quoted' || t.kind === '(' || (t.kind === 'word' && !isKeyword(t, 'AND') && !isKeyword(t, 'OR'));

  function or(): Query {
    let left = and();
    while (isKeyword(peek(), 'OR')) {
      next();
      left = { type: 'or', left, right: and() };
    }
    return left;
  }

  function and(): Query {
    let left = not();
    for (;;) {
      if (isKeyword(peek(), 'AND')) next();
      else if (!startsTerm(peek())) return left;
      left = { type: 'and', left, right: not() };
    }
  }

  function not(): Query {
    if (!isKeyword(peek(), 'NOT')) return primary();
    next();
    return { type: 'not', query: not() };
  }

  function primary(): Query {
    const t = next();
    if (t.kind === '(') {
      const inner = or();
      if (peek().kind !== ')') throw unexpected(peek(), '")"');
      next();
      return inner;
    }
    if (t.kind === 'quoted' || (t.kind === 'word' && isAddress(t.text))) {
      if (!isAddress(t.text)) throw unexpected(t, 'an address, a CIDR or field:value');
      return { type: 'match', field: 'address', op: '=', value: t.text };
    }
    if (t.kind !== 'word' || isKeyword(t, 'AND') || isKeyword(t, 'OR')) throw unexpected(t, 'a term');
    return fieldTerm(t);
  }

  function fieldTerm(t: Token): Query {
    const colon = t.text.indexOf(':');
    if (colon <= 0) throw unexpected(t, 'an address, a CIDR or field:value');
    const field = fieldNamed(t.text.slice(0, colon));
    if (!field) {
      throw new QueryError(
        `unknown field ${JSON.stringify(t.text.slice(0, colon))} at ${t.pos}; known fields: ${FIELDS.map((f) => f.name).join(', ')}`,
        t.pos,
      );
    }
    const rest = t.text.slice(colon + 1);
    if (rest) {
      const [, op = '=', text] = /^(>=|<=|>|<|=)?(.*)$/s.exec(rest)!;
      return match(field, op as Comparison, {
        kind: 'word',
        text,
        pos: t.pos + colon + 1 + (rest.length - text.length),
      });
    }
    const v = next();
    if (v.kind === 'quoted') return match(field, '=', v);
    if (v.kind === '[' || v.kind === '{') return range(field, v);
    throw unexpected(v, `a value for ${field.name}`);
  }

  function range(field: Field, open: Token): Query {
    const low = bound(field);
    if (!isKeyword(peek(), 'TO')) throw unexpected(peek(), '"TO"');
    next();
    const high = bound(field);
    const close = next();
    if (close.kind !== ']' && close.kind !== '}') throw unexpected(close, '"]" or "}"');
    const lower = low && match(field, open.kind === '[' ? '>=' : '>', low);
    const upper = high && match(field, close.kind === ']' ? '<=' : '<', high);
    if (lower && upper) return { type: 'and', left: lower, right: upper };
    const either = lower ?? upper;
    if (!either)
      throw new QueryError(
        `a range needs at least one bound at ${open.pos}; expected a value instead of "*"`,
        open.pos,
      );
    return either;
  }

  /** A range bound; undefined for `*` (open). */
  function bound(field: Field): Token | undefined {
    const t = next();
    if (t.kind === 'word' && t.text === '*') return undefined;
    if ((t.kind !== 'word' || isKeyword(t, 'TO')) && t.kind !== 'quoted')
      throw unexpected(t, `a value for ${field.name}`);
    return t;
  }

  const tree = peek().kind === 'end' ? undefined : or();
  if (peek().kind !== 'end')
    throw unexpected(
      peek(),
      startsTerm(peek()) ? 'AND, OR or the end of the query' : 'a term, AND, OR or the end of the query',
    );
  return tree;
}

/** A `field op value` node, the value checked and normalised for the field's kind. */
function match(field: Field, op: Comparison, t: Token): Query {
  const fail = (expected: string): never => {
    throw new QueryError(`unexpected ${describe(t)} at ${t.pos}; expected ${expected}`, t.pos);
  };
  const node = (value: string | number): Query => ({ type: 'match', field: field.name, op, value });
  if (field.kind !== 'integer' && op !== '=') {
    throw new QueryError(
      `${field.name} cannot be compared with "${op}" at ${t.pos}; expected ${field.name}:value`,
      t.pos,
    );
  }
  if (field.kind === 'address') return isAddress(t.text) ? node(t.text) : fail(`an address or CIDR for ${field.name}`);
  if (field.kind === 'integer') {
    const named = field.name === 'protocol' ? PROTOCOLS[t.text.toLowerCase()] : undefined;
    if (named !== undefined) return node(named);
    const n = Number(t.text);
    return /^\d+$/.test(t.text) && Number.isSafeInteger(n)
      ? node(n)
      : fail(
          `an integer for ${field.name}${field.name === 'protocol' ? ` or one of ${Object.keys(PROTOCOLS).join(', ')}` : ''}`,
        );
  }
  if (!field.values) return t.text ? node(t.text) : fail(`a value for ${field.name}`);
  const value = field.values.find((v) => v.toLowerCase() === t.text.toLowerCase());
  return value ? node(value) : fail(`one of ${field.values.join(', ')} for ${field.name}`);
}
