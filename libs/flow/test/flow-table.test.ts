import { describe, expect, it } from 'vitest';
import { newPacketEvent, type PacketEvent } from '@flowlogs/contracts';
import { parseIp } from '@flowlogs/packet';
import { FlowTable, newFlowView } from '../src/flow-table.js';

function pkt(src: string, dst: string, over: Partial<Omit<PacketEvent, 'src' | 'dst'>> = {}): PacketEvent {
  const p = newPacketEvent();
  const s = parseIp(src)!;
  const d = parseIp(dst)!;
  Object.assign(p, { ts: 1_700_000_000, protocol: 6, srcPort: 40000, dstPort: 443, bytes: 60, ...over });
  p.ipVersion = s.version;
  p.src.set(s.bytes);
  p.dst.set(d.bytes);
  return p;
}

/** Counts a packet the way FlowWindows does: into its flow, or a new one linked after `prev`. */
function add(t: FlowTable, win: number, p: PacketEvent, prev = -1): number {
  return t.addPacket(win, p) ? -1 : t.insert(win, p, prev);
}

describe('FlowTable', () => {
  it('gives back every field of a flow, the addresses as strings, IPv4 and IPv6', () => {
    const t = new FlowTable();
    const a = add(t, 0, pkt('10.16.0.22', '10.16.0.40', { ts: 1_700_000_001.5, tcpFlags: 2, direction: 'egress' }));
    expect(add(t, 0, pkt('10.16.0.22', '10.16.0.40', { ts: 1_700_000_000.25, tcpFlags: 16, bytes: 1500 }))).toBe(-1);
    const b = add(
      t,
      0,
      pkt('2001:db8::1', 'fe80::ffff:1', { protocol: 17, srcPort: 65535, dstPort: 53, action: 'REJECT' }),
      a,
    );
    expect(t.size).toBe(2);
    expect(t.read(a, newFlowView())).toEqual({
      ipVersion: 4,
      srcaddr: '10.16.0.22',
      dstaddr: '10.16.0.40',
      srcPort: 40000,
      dstPort: 443,
      protocol: 6,
      action: 'ACCEPT',
      direction: 'egress',
      packets: 2,
      bytes: 1560,
      first: 1_700_000_000.25,
      last: 1_700_000_001.5,
      tcpFlags: 18,
      pktSrcaddr: undefined,
      pktDstaddr: undefined,
    });
    expect(t.read(b, newFlowView())).toMatchObject({
      ipVersion: 6,
      srcaddr: '2001:db8::1',
      dstaddr: 'fe80::ffff:1',
      srcPort: 65535,
      dstPort: 53,
      protocol: 17,
      action: 'REJECT',
      direction: undefined,
    });
    expect(t.next(a)).toBe(b);
    expect(t.next(b)).toBe(-1);
  });

  it('keeps the same key in two windows apart, and a tunnelled flow its inner addresses', () => {
    const t = new FlowTable();
    const p = pkt('10.0.0.1', '10.0.0.2');
    p.pktIpVersion = 4;
    p.pktSrc.set(parseIp('192.168.0.1')!.bytes);
    p.pktDst.set(parseIp('192.168.0.2')!.bytes);
    const a = add(t, 1, p);
    const b = add(t, 2, p);
    expect(a).not.toBe(b);
    expect(t.read(b, newFlowView())).toMatchObject({
      packets: 1,
      pktSrcaddr: '192.168.0.1',
      pktDstaddr: '192.168.0.2',
    });
    t.free(b);
    const c = add(t, 3, pkt('10.0.0.1', '10.0.0.2'));
    expect(c).toBe(b); // the freed slot is taken again, without the inner addresses of its last flow
    expect(t.read(c, newFlowView()).pktSrcaddr).toBeUndefined();
  });

  it('grows past its first arrays, frees, and finds every flow again (counts as a Map would)', () => {
    const t = new FlowTable();
    const slots = new Map<string, number>();
    const expected = new Map<string, number>();
    let seed = 1;
    const next = (n: number) => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return (seed >>> 8) % n;
    };
    for (let i = 0; i < 60_000; i++) {
      const win = next(3);
      const port = next(5000);
      const key = `${win}|${port}`;
      const s = add(t, win, pkt('10.0.0.1', '10.0.0.2', { srcPort: port }));
      if (s !== -1) slots.set(key, s);
      expected.set(key, (expected.get(key) ?? 0) + 1);
      // Now and then a window is emitted: its flows freed, their slots taken by the next ones.
      if (i % 20_000 === 19_999) {
        for (const [k, slot] of slots)
          if (k.startsWith(`${win}|`)) {
            t.free(slot);
            slots.delete(k);
            expected.delete(k);
          }
      }
    }
    expect(t.size).toBe(expected.size);
    const view = newFlowView();
    for (const [k, slot] of slots) {
      const [, port] = k.split('|').map(Number);
      expect(t.read(slot, view)).toMatchObject({ srcPort: port, packets: expected.get(k) });
    }
  });
});
