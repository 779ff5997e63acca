import { describe, expect, it } from 'vitest';
import { cidrContains, hasHostBits, parseCidr, parseIp } from '../src/ip.js';

describe('parseIp', () => {
  it('reads IPv4 and IPv6 (compressed, embedded IPv4) as numbers', () => {
    expect(parseIp('10.0.1.5')).toEqual({ version: 4, value: 0x0a000105n });
    expect(parseIp('::1')).toEqual({ version: 6, value: 1n });
    expect(parseIp('2001:db8::')).toEqual({ version: 6, value: 0x20010db8n << 96n });
    expect(parseIp('::ffff:10.0.0.1')).toEqual({ version: 6, value: 0xffff0a000001n });
    expect(parseIp('2001:db8:0:0:1:0:0:1')).toEqual(parseIp('2001:db8::1:0:0:1'));
  });

  it('refuses what is not a bare address', () => {
    for (const s of ['', '10.0.0', '10.0.0.256', '10.0.0.1/32', 'fe80::1%eth0', 'example.com', '1.2.3.4 '])
      expect(parseIp(s)).toBeUndefined();
  });
});

describe('parseCidr', () => {
  it('reads address/prefix', () => {
    expect(parseCidr('10.0.0.0/16')).toEqual({ version: 4, value: 0x0a000000n, prefix: 16 });
    expect(parseCidr('2001:db8::/56')).toMatchObject({ version: 6, prefix: 56 });
  });

  it('refuses bad prefixes and addresses', () => {
    for (const s of ['10.0.0.0', '10.0.0.0/33', '10.0.0.0/-1', '10.0.0.0/1a', '::/129', '10.0.0/8', 'x/8'])
      expect(parseCidr(s)).toBeUndefined();
  });

  it('tells host bits set', () => {
    expect(hasHostBits(parseCidr('10.0.0.1/16')!)).toBe(true);
    expect(hasHostBits(parseCidr('10.0.0.0/16')!)).toBe(false);
    expect(hasHostBits(parseCidr('0.0.0.0/0')!)).toBe(false);
    expect(hasHostBits(parseCidr('2001:db8::1/64')!)).toBe(true);
  });
});

describe('cidrContains', () => {
  const vpc = parseCidr('10.0.0.0/16')!;

  it('holds networks and addresses inside, itself included', () => {
    expect(cidrContains(vpc, parseCidr('10.0.1.0/24')!)).toBe(true);
    expect(cidrContains(vpc, parseCidr('10.0.0.0/16')!)).toBe(true);
    expect(cidrContains(vpc, parseIp('10.0.255.255')!)).toBe(true);
    expect(cidrContains(parseCidr('2001:db8::/56')!, parseIp('2001:db8:0:ff::1')!)).toBe(true);
  });

  it('refuses outside, wider, and the other family', () => {
    expect(cidrContains(vpc, parseCidr('10.1.0.0/24')!)).toBe(false);
    expect(cidrContains(vpc, parseCidr('10.0.0.0/8')!)).toBe(false);
    expect(cidrContains(vpc, parseIp('10.1.0.1')!)).toBe(false);
    expect(cidrContains(vpc, parseIp('::ffff:10.0.0.1')!)).toBe(false);
  });
});
