import { isIP } from 'node:net';

/** An IP address as a number, so that prefixes can be compared with shifts. */
export interface IpAddress {
  version: 4 | 6;
  value: bigint;
}

export interface Cidr extends IpAddress {
  prefix: number;
}

const BITS = { 4: 32, 6: 128 } as const;

function ipv4Value(s: string): bigint {
  return s.split('.').reduce((n, octet) => (n << 8n) | BigInt(Number(octet)), 0n);
}

function ipv6Value(s: string): bigint {
  // An embedded IPv4 tail (::ffff:10.0.0.1) stands for the last two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  let groups = s;
  if (dotted) {
    const v4 = ipv4Value(dotted[1]);
    groups = `${s.slice(0, -dotted[1].length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = groups.split('::');
  const parts = (p: string | undefined) => (p ? p.split(':') : []);
  const missing = 8 - parts(head).length - parts(tail).length;
  const all = tail === undefined ? parts(head) : [...parts(head), ...Array<string>(missing).fill('0'), ...parts(tail)];
  return all.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** Parses a bare IPv4 or IPv6 address (no zone, no prefix); undefined when it is not one. */
export function parseIp(s: string): IpAddress | undefined {
  const version = isIP(s);
  if (version === 4) return { version, value: ipv4Value(s) };
  if (version === 6 && !s.includes('%')) return { version, value: ipv6Value(s) };
  return undefined;
}

/** Parses `address/prefix`; undefined when it is not one. Host bits may be set: see hasHostBits. */
export function parseCidr(s: string): Cidr | undefined {
  const slash = s.lastIndexOf('/');
  if (slash < 0 || !/^\d{1,3}$/.test(s.slice(slash + 1))) return undefined;
  const ip = parseIp(s.slice(0, slash));
  const prefix = Number(s.slice(slash + 1));
  if (!ip || prefix > BITS[ip.version]) return undefined;
  return { ...ip, prefix };
}

/** True when bits after the prefix are set (10.0.0.1/16): Postgres' cidr type, like AWS, refuses those. */
export function hasHostBits(cidr: Cidr): boolean {
  const hostBits = BigInt(BITS[cidr.version] - cidr.prefix);
  return (cidr.value & ((1n << hostBits) - 1n)) !== 0n;
}

/** True when `inner` (a network or a single address) lies inside `outer`. */
export function cidrContains(outer: Cidr, inner: Cidr | IpAddress): boolean {
  const innerPrefix = 'prefix' in inner ? inner.prefix : BITS[inner.version];
  if (inner.version !== outer.version || innerPrefix < outer.prefix) return false;
  const shift = BigInt(BITS[outer.version] - outer.prefix);
  return inner.value >> shift === outer.value >> shift;
}
