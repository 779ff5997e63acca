import { describe, expect, it } from 'vitest';
import type { FlowRecord } from '@flowlogs/contracts';
import { makeRecord } from '@flowlogs/testkit';
import { parseQuery, queryPredicate, QueryError, querySql, SqlParams, type Query } from '../src/query/index.js';

const m = (field: string, value: string | number, op = '='): Query => ({ type: 'match', field, op, value }) as Query;
const errorOf = (q: string) => {
  try {
    parseQuery(q);
  } catch (err) {
    if (err instanceof QueryError) return { message: err.message, position: err.position };
    throw err;
  }
  throw new Error(`${q} parsed`);
};

describe('parseQuery', () => {
  it('reads bare addresses and CIDRs as source-or-destination', () => {
    expect(parseQuery('10.0.0.1')).toEqual(m('address', '10.0.0.1'));
    expect(parseQuery('2001:db8::/32')).toEqual(m('address', '2001:db8::/32'));
    expect(parseQuery('fe80::1')).toEqual(m('address', 'fe80::1'));
    expect(parseQuery('"10.0.0.0/8"')).toEqual(m('address', '10.0.0.0/8'));
  });

  it('reads field:value by contract name or camelCase, normalising values', () => {
    expect(parseQuery('dstaddr:2001:db8::1')).toEqual(m('dstaddr', '2001:db8::1'));
    expect(parseQuery('srcaddr:10.0.0.0/8')).toEqual(m('srcaddr', '10.0.0.0/8'));
    expect(parseQuery('interfaceId:eni-1')).toEqual(m('interface-id', 'eni-1'));
    expect(parseQuery('interface-id:"eni 1"')).toEqual(m('interface-id', 'eni 1'));
    expect(parseQuery('logStatus:skipdata')).toEqual(m('log-status', 'SKIPDATA'));
    expect(parseQuery('action:reject')).toEqual(m('action', 'REJECT'));
    expect(parseQuery('protocol:udp')).toEqual(m('protocol', 17));
    expect(parseQuery('protocol:ICMPv6')).toEqual(m('protocol', 58));
    expect(parseQuery('tcp-flags:18')).toEqual(m('tcp-flags', 18));
    expect(parseQuery('flowDirection:Ingress')).toEqual(m('flow-direction', 'ingress'));
    expect(parseQuery('vpc-id:"vpc-\\"x\\""')).toEqual(m('vpc-id', 'vpc-"x"'));
  });

  it('reads comparisons and ranges', () => {
    expect(parseQuery('bytes:>1000000')).toEqual(m('bytes', 1_000_000, '>'));
    expect(parseQuery('packets:>=2')).toEqual(m('packets', 2, '>='));
    expect(parseQuery('start:<100')).toEqual(m('start', 100, '<'));
    expect(parseQuery('end:<=100')).toEqual(m('end', 100, '<='));
    expect(parseQuery('dstport:[1 TO 1024]')).toEqual({
      type: 'and',
      left: m('dstport', 1, '>='),
      right: m('dstport', 1024, '<='),
    });
    expect(parseQuery('dstport:{1 to 1024}')).toEqual({
      type: 'and',
      left: m('dstport', 1, '>'),
      right: m('dstport', 1024, '<'),
    });
    expect(parseQuery('srcport:[1024 TO *]')).toEqual(m('srcport', 1024, '>='));
  });

  it('binds NOT tightest, then AND (also implicit), then OR, in any case', () => {
    const [a, b, c] = [m('address', '10.0.0.1'), m('dstport', 80), m('action', 'ACCEPT')];
    const q = '10.0.0.1 OR dstport:80 AND action:accept';
    expect(parseQuery(q)).toEqual({ type: 'or', left: a, right: { type: 'and', left: b, right: c } });
    expect(parseQuery('10.0.0.1 or dstport:80 action:accept')).toEqual(parseQuery(q));
    expect(parseQuery('(10.0.0.1 OR dstport:80) AND action:accept')).toEqual({
      type: 'and',
      left: { type: 'or', left: a, right: b },
      right: c,
    });
    expect(parseQuery('NOT 10.0.0.1 dstport:80')).toEqual({ type: 'and', left: { type: 'not', query: a }, right: b });
    expect(parseQuery('not not 10.0.0.1')).toEqual({ type: 'not', query: { type: 'not', query: a } });
    expect(parseQuery('10.0.0.1 and dstport:80 and action:accept')).toEqual({
      type: 'and',
      left: { type: 'and', left: a, right: b },
      right: c,
    });
  });

  it('is blank for an empty query', () => {
    expect(parseQuery('')).toBeUndefined();
    expect(parseQuery('   ')).toBeUndefined();
  });

  it('says where and what was expected', () => {
    expect(errorOf('srcaddr:10.0.0.1 AND )')).toEqual({
      message: 'unexpected ")" at 21; expected a term',
      position: 21,
    });
    expect(errorOf('(10.0.0.1')).toEqual({ message: 'unexpected end of query at 9; expected ")"', position: 9 });
    expect(errorOf('10.0.0.1)')).toEqual({
      message: 'unexpected ")" at 8; expected a term, AND, OR or the end of the query',
      position: 8,
    });
    expect(errorOf('OR 10.0.0.1').message).toBe('unexpected "OR" at 0; expected a term');
    expect(errorOf('port=80').message).toBe('unexpected "port=80" at 0; expected an address, a CIDR or field:value');
    expect(errorOf('dstport:>x')).toEqual({
      message: 'unexpected "x" at 9; expected an integer for dstport',
      position: 9,
    });
    expect(errorOf('dstport:[1 1024]').message).toBe('unexpected "1024" at 11; expected "TO"');
    expect(errorOf('dstport:[1 TO 2').message).toBe('unexpected end of query at 15; expected "]" or "}"');
    expect(errorOf('dstport:[* TO *]').message).toMatch(/^a range needs at least one bound at 8/);
    expect(errorOf('srcaddr:>10.0.0.1').message).toMatch(/^srcaddr cannot be compared with ">" at 9/);
    expect(errorOf('srcaddr:10.0.0.300').message).toBe(
      'unexpected "10.0.0.300" at 8; expected an address or CIDR for srcaddr',
    );
    expect(errorOf('action:drop').message).toBe('unexpected "drop" at 7; expected one of ACCEPT, REJECT for action');
    expect(errorOf('protocol:foo').message).toContain('expected an integer for protocol or one of icmp, tcp, udp');
    expect(errorOf('dstport:').message).toBe('unexpected end of query at 8; expected a value for dstport');
    expect(errorOf('10.0.0.1 "unterminated').message).toBe('unterminated quoted value at 9; expected a closing "');
  });

  it('names an unknown field and lists the known ones', () => {
    const { message, position } = errorOf('10.0.0.1 port:80');
    expect(position).toBe(9);
    expect(message).toMatch(
      /^unknown field "port" at 9; known fields: version, account-id, interface-id, srcaddr, dstaddr, srcport, dstport, protocol/,
    );
    expect(message).toContain('tcp-flags, type, flow-direction');
  });
});

describe('querySql', () => {
  const sql = (q: string, params = new SqlParams()) => ({
    text: querySql(parseQuery(q)!, params),
    values: params.values,
  });

  it('numbers parameters after those already taken, values never in the text', () => {
    const params = new SqlParams();
    params.add('topic-1');
    params.add('123456789012');
    const { text, values } = sql(
      `interface-id:"eni-'; DROP TABLE x; --" OR dstport:[1 TO 1024] AND NOT 10.0.0.0/8`,
      params,
    );
    expect(text).toBe(
      '(interface_id = $3 OR ((dstport >= $4 AND dstport <= $5) AND NOT coalesce((srcaddr <<= $6::inet OR dstaddr <<= $6::inet), false)))',
    );
    expect(values).toEqual(['topic-1', '123456789012', "eni-'; DROP TABLE x; --", 1, 1024, '10.0.0.0/8']);
    expect(text).not.toContain('DROP');
  });

  it('uses the columns, equality for a single address', () => {
    expect(sql('10.0.0.1').text).toBe('(srcaddr = $1::inet OR dstaddr = $1::inet)');
    expect(sql('dstaddr:2001:db8::/32').text).toBe('dstaddr <<= $1::inet');
    expect(sql('bytes:>1000 protocol:tcp action:reject').text).toBe('((bytes > $1 AND protocol = $2) AND action = $3)');
    expect(sql('start:>=5 log-status:ok').text).toBe('(start_time >= $1 AND log_status = $2)');
    expect(sql('tcp-flags:18 vpc-id:vpc-1 flow-direction:egress').text).toBe(
      '((tcp_flags = $1 AND vpc_id = $2) AND flow_direction = $3)',
    );
  });
});

describe('queryPredicate', () => {
  const base: Partial<FlowRecord> = {
    srcaddr: '10.0.1.5',
    dstaddr: '192.0.2.1',
    packets: 10,
    bytes: 5000,
    start: 1001,
    end: 1005,
    tcpFlags: 18,
    windowStart: 1000,
    windowEnd: 1010,
  };
  const rec = (over: Partial<FlowRecord> = {}): FlowRecord => makeRecord({ ...base, ...over });
  const nodata = makeRecord({ logStatus: 'NODATA', windowStart: 1000, windowEnd: 1010 });
  const matches = (q: string, r = rec()) => queryPredicate(parseQuery(q))(r);

  it('matches addresses and CIDRs on either side', () => {
    expect(matches('192.0.2.1')).toBe(true);
    expect(matches('10.0.0.0/16')).toBe(true);
    expect(matches('10.0.2.0/24')).toBe(false);
    expect(matches('srcaddr:192.0.2.1')).toBe(false);
    expect(matches('dstaddr:192.0.2.0/24')).toBe(true);
    expect(matches('2001:db8::/32', rec({ srcaddr: '2001:db8::5', dstaddr: '2001:db9::1', type: 'IPv6' }))).toBe(true);
    expect(matches('::/0')).toBe(false);
  });

  it('compares numbers, protocol names and enums', () => {
    expect(matches('dstport:443 protocol:tcp action:accept')).toBe(true);
    expect(matches('bytes:>5000')).toBe(false);
    expect(matches('bytes:>=5000 packets:<11 start:<=1001 end:>1004')).toBe(true);
    expect(matches('dstport:[1 TO 1024]')).toBe(true);
    expect(matches('dstport:{1 TO 443}')).toBe(false);
    expect(matches('tcp-flags:18 vpcId:vpc-1 flow-direction:egress interfaceId:eni-1')).toBe(true);
  });

  it('combines with AND, OR, NOT; a missing value matches no term, so NOT of it does', () => {
    expect(matches('dstport:80 OR dstport:443 AND protocol:tcp')).toBe(true);
    expect(matches('(dstport:80 OR dstport:443) AND protocol:udp')).toBe(false);
    expect(matches('NOT dstport:80')).toBe(true);
    expect(matches('dstport:80', nodata)).toBe(false);
    expect(matches('NOT dstport:80', nodata)).toBe(true);
    expect(matches('log-status:nodata NOT 10.0.0.0/8', nodata)).toBe(true);
    expect(queryPredicate(undefined)(nodata)).toBe(true);
  });
});
