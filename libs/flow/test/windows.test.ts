import { describe, expect, it } from 'vitest';
import {
  FIELDS,
  FLOW_KEY,
  FlowRecord,
  flowKeyOf,
  newPacketEvent,
  type FlowLogRule,
  type PacketEvent,
} from '@flowlogs/contracts';
import { parseIp } from '@flowlogs/packet';
import { FlowWindows, RuleSet, eniKeyOf, windowStartOf, type EniContext } from '../src/index.js';

const eni: EniContext = { eniId: 'eni-a', accountId: '111122223333', vpcId: 'vpc-1', subnetId: 'subnet-1' };
/** An ENI of the same account, VPC and subnet as `eni`. */
const at = (eniId: string): EniContext => ({ ...eni, eniId });

function rule(over: Partial<FlowLogRule> = {}): FlowLogRule {
  return {
    id: 'fl-1',
    accountId: eni.accountId,
    name: 'r',
    resourceType: 'NETWORKINTERFACE',
    resourceId: 'eni-a',
    trafficType: 'ALL',
    logTopicId: 'topic-1',
    aggregationInterval: 60,
    enabled: true,
    revision: 1,
    ...over,
  };
}

function pkt(
  ts: number,
  over: Partial<Omit<PacketEvent, 'src' | 'dst'>> & { src?: string; dst?: string } = {},
): PacketEvent {
  const p = newPacketEvent();
  const { src: srcIp = '10.16.0.22', dst: dstIp = '10.16.0.40', ...fields } = over;
  const src = parseIp(srcIp)!;
  const dst = parseIp(dstIp)!;
  Object.assign(p, { protocol: 1, bytes: 84, ...fields, ts, ipVersion: src.version });
  p.src.set(src.bytes);
  p.dst.set(dst.bytes);
  return p;
}

describe('FlowWindows', () => {
  it('aligns windows to the epoch', () => {
    expect(windowStartOf(1_700_000_059.9, 60)).toBe(1_700_000_040);
    expect(windowStartOf(1_700_000_040, 60)).toBe(1_700_000_040);
    expect(windowStartOf(1_700_000_000, 600)).toBe(1_699_999_800);
  });

  it('sums one flow key per window: packets, bytes, first and last second, OR of TCP flags', () => {
    const w = new FlowWindows({ allowedLateness: 5 });
    const r = rule();
    for (let i = 0; i < 9; i++) w.add(r, eni, pkt(1_700_000_001 + i, { direction: 'egress' }), i);
    w.add(r, eni, pkt(1_700_000_002.5, { protocol: 6, srcPort: 40000, dstPort: 22, tcpFlags: 2 }), 9);
    w.add(r, eni, pkt(1_700_000_003.5, { protocol: 6, srcPort: 40000, dstPort: 22, tcpFlags: 16 }), 10);
    const records = w.closeAll();
    expect(records).toHaveLength(2);
    const icmp = records.find((x) => x.protocol === 1)!;
    expect(icmp).toMatchObject({
      srcaddr: '10.16.0.22',
      dstaddr: '10.16.0.40',
      srcport: 0,
      dstport: 0,
      packets: 9,
      bytes: 756,
      start: 1_700_000_001,
      end: 1_700_000_009,
      action: 'ACCEPT',
      logStatus: 'OK',
      flowDirection: 'egress',
      windowStart: 1_699_999_980,
      windowEnd: 1_700_000_040,
      tcpFlags: null,
      type: 'IPv4',
    });
    const tcp = records.find((x) => x.protocol === 6)!;
    expect(tcp).toMatchObject({ packets: 2, bytes: 168, tcpFlags: 18, dstport: 22 });
    expect(w.activeFlows).toBe(0);
  });

  it("tells flows apart by the field table's flow key and by nothing else", () => {
    const other: EniContext = { ...eni, eniId: 'eni-b' };
    /** A packet that differs from the first in one field of the flow key, named by its record key. */
    const vary: Record<string, [EniContext, PacketEvent]> = {
      interfaceId: [other, pkt(1_700_000_001)],
      srcaddr: [eni, pkt(1_700_000_001, { src: '10.16.0.23' })],
      dstaddr: [eni, pkt(1_700_000_001, { dst: 'fd00::40', src: 'fd00::22' })],
      srcport: [eni, pkt(1_700_000_001, { srcPort: 1 })],
      dstport: [eni, pkt(1_700_000_001, { dstPort: 1 })],
      protocol: [eni, pkt(1_700_000_001, { protocol: 17 })],
      action: [eni, pkt(1_700_000_001, { action: 'REJECT' })],
    };
    expect(Object.keys(vary)).toEqual(FLOW_KEY);
    const w = new FlowWindows({ allowedLateness: 5 });
    const r = rule();
    w.add(r, eni, pkt(1_700_000_001, { direction: 'egress', tcpFlags: 1 }), 0);
    // Differing in fields outside the flow key: the same flow.
    w.add(r, eni, pkt(1_700_000_009, { direction: 'ingress', tcpFlags: 2, bytes: 1500 }), 1);
    for (const [e, p] of Object.values(vary)) w.add(r, e, p, 2);
    const records = w.closeAll();
    expect(records).toHaveLength(1 + FLOW_KEY.length);
    expect(new Set(records.map((x) => flowKeyOf(x, '-'))).size).toBe(records.length);
    expect(records[0]).toMatchObject({
      packets: 2,
      bytes: 1584,
      flowDirection: 'egress',
      start: 1_700_000_001,
      end: 1_700_000_009,
    });
  });

  it("gives a record the innermost addresses of its flow's first packet (pkt-srcaddr is not in the flow key), the outer ones untunnelled", () => {
    const w = new FlowWindows({ allowedLateness: 5 });
    const r = rule();
    const gre = (ts: number, inner: string, innerDst: string) => {
      const p = pkt(ts, { protocol: 47 });
      const a = parseIp(inner)!;
      p.pktIpVersion = a.version;
      p.pktSrc.set(a.bytes);
      p.pktDst.set(parseIp(innerDst)!.bytes);
      return p;
    };
    w.add(r, eni, gre(1_700_000_001, '192.168.7.1', '192.168.7.2'), 0);
    w.add(r, eni, gre(1_700_000_002, 'fd00::7:1', 'fd00::7:2'), 1);
    w.add(r, eni, pkt(1_700_000_003), 2);
    const [tunnel, plain] = w.closeAll();
    expect(tunnel).toMatchObject({
      protocol: 47,
      packets: 2,
      srcaddr: '10.16.0.22',
      pktSrcaddr: '192.168.7.1',
      pktDstaddr: '192.168.7.2',
    });
    expect(plain).toMatchObject({ protocol: 1, packets: 1, pktSrcaddr: '10.16.0.22', pktDstaddr: '10.16.0.40' });
  });

  it('leaves null on NODATA records exactly the fields the field table says are absent', () => {
    const w = new FlowWindows({ allowedLateness: 5 });
    w.markLive(rule(), eni, 1_700_000_001, 1_700_000_001, 0);
    const [nodata] = w.closeAll();
    expect(nodata.logStatus).toBe('NODATA');
    expect(FlowRecord.parse(nodata)).toEqual(nodata);
    for (const f of FIELDS) expect(nodata[f.key] === null, f.name).toBe(f.absent === 'null');
  });

  it('keeps separate records per rule, per window and per action, and filters by collection type', () => {
    const w = new FlowWindows({ allowedLateness: 0 });
    const all = rule({ id: 'fl-all', aggregationInterval: 10 });
    const rejects = rule({ id: 'fl-rej', trafficType: 'REJECT', aggregationInterval: 60 });
    const events = [pkt(1_700_000_001), pkt(1_700_000_011), pkt(1_700_000_012, { action: 'REJECT' })];
    events.forEach((e, i) => {
      w.add(all, eni, e, i);
      w.add(rejects, eni, e, i);
    });
    const records = w.closeAll();
    expect(records.filter((r) => r.flowLogId === 'fl-all').map((r) => [r.windowStart, r.action, r.packets])).toEqual([
      [1_700_000_000, 'ACCEPT', 1],
      [1_700_000_010, 'ACCEPT', 1],
      [1_700_000_010, 'REJECT', 1],
    ]);
    expect(records.filter((r) => r.flowLogId === 'fl-rej').map((r) => [r.action, r.packets])).toEqual([['REJECT', 1]]);
  });

  it('closes a window once the watermark passes its end plus the allowed lateness', () => {
    const w = new FlowWindows({ allowedLateness: 5 });
    const r = rule({ aggregationInterval: 10 });
    w.add(r, eni, pkt(1_700_000_001), 0);
    w.add(r, eni, pkt(1_700_000_014), 1);
    w.advance(eni, 1_700_000_014);
    expect(w.closeDue()).toEqual([]); // watermark 14 < 10 + 5
    expect(w.minOpenPosition()).toBe(0);
    w.add(r, eni, pkt(1_700_000_015), 2);
    w.advance(eni, 1_700_000_015);
    const closed = w.closeDue();
    expect(closed.map((x) => x.windowStart)).toEqual([1_700_000_000]);
    expect(w.minOpenPosition()).toBe(1);
  });

  it('takes event time from what the source reports, not from its newest packet: packets behind it are on time', () => {
    const w = new FlowWindows({ allowedLateness: 0 });
    const r = rule({ aggregationInterval: 10 });
    w.add(r, eni, pkt(1_700_000_011), 0);
    w.advance(eni, 1_700_000_009.5); // e.g. NFLOG: the source says its packets may still come 1.5 s behind
    expect(w.closeDue()).toEqual([]);
    expect(w.add(r, eni, pkt(1_700_000_009.6), 1)).toBe('added');
    w.advance(eni, 1_700_000_010);
    expect(w.closeDue().map((x) => [x.windowStart, x.packets])).toEqual([[1_700_000_000, 1]]);
  });

  it('reports a packet for an emitted window as SKIPDATA, not as a second record of the flow', () => {
    const w = new FlowWindows({ allowedLateness: 0 });
    const r = rule({ aggregationInterval: 10 });
    w.add(r, eni, pkt(1_700_000_001), 0);
    w.add(r, eni, pkt(1_700_000_020), 1);
    w.advance(eni, 1_700_000_020);
    expect(w.closeDue()).toHaveLength(1);
    expect(w.add(r, eni, pkt(1_700_000_002), 2)).toBe('late');
    const [skip] = w.closeDue();
    expect(skip).toMatchObject({
      logStatus: 'SKIPDATA',
      skippedPackets: 1,
      windowStart: 1_700_000_000,
      srcaddr: null,
      packets: null,
    });
  });

  it('gives each round of late packets its own SKIPDATA record, with the same id on a replay of the same input', () => {
    const lateRounds = () => {
      const w = new FlowWindows({ allowedLateness: 0 });
      const r = rule({ aggregationInterval: 10 });
      w.add(r, eni, pkt(1_700_000_001), 0);
      w.addSkipped(r, eni, 1_700_000_003, 4, 0);
      w.add(r, eni, pkt(1_700_000_020), 1);
      w.advance(eni, 1_700_000_020);
      const first = w.closeDue();
      w.add(r, eni, pkt(1_700_000_002), 2);
      const second = w.closeDue();
      w.add(r, eni, pkt(1_700_000_004), 3);
      w.add(r, eni, pkt(1_700_000_005), 4);
      const third = w.closeDue();
      return [...first, ...second, ...third].filter((x) => x.logStatus === 'SKIPDATA');
    };
    const skips = lateRounds();
    expect(skips.map((x) => [x.windowStart, x.skippedPackets])).toEqual([
      [1_700_000_000, 4],
      [1_700_000_000, 1],
      [1_700_000_000, 2],
    ]);
    expect(new Set(skips.map((x) => x.recordId)).size).toBe(3);
    expect(lateRounds().map((x) => x.recordId)).toEqual(skips.map((x) => x.recordId));
  });

  it('after restore, tells input of emitted windows apart, per ENI', () => {
    const w = new FlowWindows({ allowedLateness: 0 });
    w.restore([
      [eniKeyOf(at('eni-a')), 1_700_000_010],
      [eniKeyOf(at('eni-old')), 1_000_000_010],
    ]);
    const r = rule({ aggregationInterval: 10 });
    expect(w.isEmitted(r, at('eni-a'), 1_700_000_005)).toBe(true);
    expect(w.isEmitted(r, at('eni-a'), 1_700_000_010)).toBe(false);
    expect(w.isEmitted(r, at('eni-old'), 1_000_000_005)).toBe(true);
    expect(w.isEmitted(r, at('eni-old'), 1_000_000_010)).toBe(false);
    expect(w.isEmitted(r, at('eni-new'), 1_000_000_005)).toBe(false);
  });

  it('names for a commit the ENIs whose input comes at or after its offset, with what each emitted', () => {
    const w = new FlowWindows({ allowedLateness: 0 });
    const r = rule({ resourceType: 'SUBNET', resourceId: 'subnet-1', aggregationInterval: 10 });
    const b = { ...eni, eniId: 'eni-b' };
    w.add(r, eni, pkt(1_700_000_001), 0);
    w.add(r, b, pkt(1_000_000_001), 1);
    w.advance(at('eni-a'), 1_700_000_011);
    w.advance(at('eni-b'), 1_000_000_011);
    expect(w.closeDue()).toHaveLength(2);
    w.add(r, b, pkt(1_000_000_012), 2);
    expect(w.emittedFrom(w.minOpenPosition()!)).toEqual([['111122223333/eni-b', 1_000_000_010]]);
    expect(w.emittedFrom(0)).toEqual([
      ['111122223333/eni-a', 1_700_000_010],
      ['111122223333/eni-b', 1_000_000_010],
    ]);
  });

  it('gives the same record id to the same flow in the same window, whatever the counts', () => {
    const a = new FlowWindows({ allowedLateness: 0 });
    const b = new FlowWindows({ allowedLateness: 0 });
    a.add(rule(), eni, pkt(1_700_000_001), 0);
    b.add(rule(), eni, pkt(1_700_000_001), 0);
    b.add(rule(), eni, pkt(1_700_000_002), 1);
    expect(a.closeAll()[0].recordId).toBe(b.closeAll()[0].recordId);
  });
});

describe('event time per ENI', () => {
  const live = { ...eni, eniId: 'eni-live' };
  const old = { ...eni, eniId: 'eni-old' };
  const subnet = rule({ resourceType: 'SUBNET', resourceId: 'subnet-1', aggregationInterval: 10 });

  it('an old capture replayed beside a live ENI is windowed by its own clock: nothing late, both exact', () => {
    const w = new FlowWindows({ allowedLateness: 2 });
    w.add(subnet, live, pkt(1_700_000_001), 0);
    w.advance(at('eni-live'), 1_700_000_030);
    expect(w.closeDue().map((x) => [x.interfaceId, x.windowStart, x.packets])).toEqual([
      ['eni-live', 1_700_000_000, 1],
    ]);
    // A capture from 2001 for another ENI on the same partition: not late, and not closed by the live ENI's time.
    const results = [1, 2, 12, 13, 25].map((s, i) => w.add(subnet, old, pkt(1_000_000_000 + s), 1 + i));
    expect(results).toEqual(['added', 'added', 'added', 'added', 'added']);
    w.advance(old, 1_000_000_025);
    expect(w.closeDue().map((x) => [x.interfaceId, x.windowStart, x.packets])).toEqual([
      ['eni-old', 1_000_000_000, 2],
      ['eni-old', 1_000_000_010, 2],
    ]);
    w.add(subnet, live, pkt(1_700_000_031), 6);
    w.advance(live, 1_700_000_031);
    expect(w.closeDue()).toEqual([]);
    // Its source ended: the caller closes the rest of its windows, and only its.
    const rest = w.closeDue((key) => (key === eniKeyOf(old) ? Infinity : undefined));
    expect(rest.map((x) => [x.interfaceId, x.windowStart, x.packets])).toEqual([['eni-old', 1_000_000_020, 1]]);
    expect(w.openWindows).toBe(1);
    // Late for the old ENI is by its own clock: a packet of its emitted windows is SKIPDATA, the live ENI's window stays open.
    expect(w.add(subnet, old, pkt(1_000_000_003), 7)).toBe('late');
    expect(
      w
        .closeDue((key) => (key === eniKeyOf(old) ? Infinity : undefined))
        .map((x) => [x.interfaceId, x.logStatus, x.skippedPackets]),
    ).toEqual([['eni-old', 'SKIPDATA', 1]]);
  });

  it('a live ENI whose clock is behind the others (a host minutes off) is windowed by its own time', () => {
    const w = new FlowWindows({ allowedLateness: 0 });
    const behind = { ...eni, eniId: 'eni-behind' };
    w.add(subnet, live, pkt(1_700_000_301), 0);
    w.advance(at('eni-live'), 1_700_000_320);
    w.add(subnet, behind, pkt(1_700_000_001), 1);
    w.advance(at('eni-behind'), 1_700_000_009);
    expect(w.closeDue().map((x) => x.interfaceId)).toEqual(['eni-live']);
    w.advance(at('eni-behind'), 1_700_000_010);
    expect(w.closeDue().map((x) => [x.interfaceId, x.packets])).toEqual([['eni-behind', 1]]);
  });
  it('keeps apart two accounts that use the same ENI id: clocks, windows, emitted-through points', () => {
    const w = new FlowWindows({ allowedLateness: 0 });
    const mine = { ...eni, eniId: 'eni-same' };
    const theirs = { ...eni, eniId: 'eni-same', accountId: '444455556666' };
    const r = rule({ resourceType: 'SUBNET', resourceId: 'subnet-1', aggregationInterval: 10 });
    const theirRule = { ...r, id: 'fl-2', accountId: theirs.accountId };
    w.add(r, mine, pkt(1_700_000_001), 0);
    w.add(theirRule, theirs, pkt(1_000_000_001), 1);
    // One account's ENI far ahead neither closes the other's window nor makes its packets late.
    w.advance(mine, 1_700_000_030);
    expect(w.closeDue().map((x) => [x.accountId, x.windowStart])).toEqual([['111122223333', 1_700_000_000]]);
    expect(w.add(theirRule, theirs, pkt(1_000_000_002), 2)).toBe('added');
    expect(w.isEmitted(r, mine, 1_700_000_005)).toBe(true);
    expect(w.isEmitted(theirRule, theirs, 1_000_000_005)).toBe(false);
    expect(w.closeDue((key) => (key === eniKeyOf(theirs) ? Infinity : undefined))).toMatchObject([
      { accountId: '444455556666', interfaceId: 'eni-same', packets: 2 },
    ]);
    expect(w.emittedFrom(0)).toEqual([
      ['111122223333/eni-same', 1_700_000_010],
      ['444455556666/eni-same', 1_000_000_010],
    ]);
  });
});

describe('NODATA and capacity', () => {
  it('gives a live ENI without traffic a NODATA record per window, and none where it had traffic', () => {
    const w = new FlowWindows({ allowedLateness: 0 });
    const r = rule({ aggregationInterval: 10 });
    w.markLive(r, eni, 1_700_000_001, 1_700_000_029, 0);
    w.add(r, eni, pkt(1_700_000_012), 1);
    const records = w.closeAll();
    expect(records.map((x) => [x.windowStart, x.logStatus])).toEqual([
      [1_700_000_000, 'NODATA'],
      [1_700_000_010, 'OK'],
      [1_700_000_020, 'NODATA'],
    ]);
    expect(records[0]).toMatchObject({
      interfaceId: 'eni-a',
      srcaddr: null,
      packets: null,
      action: null,
      skippedPackets: null,
    });
    expect(new Set(records.map((x) => x.recordId)).size).toBe(3);
  });

  it('gives the windows of a capture gap (the agent restarted) SKIPDATA, the number lost unknown, and no NODATA', () => {
    const w = new FlowWindows({ allowedLateness: 0 });
    const r = rule({ aggregationInterval: 10 });
    w.add(r, eni, pkt(1_700_000_001), 0);
    w.markLive(r, eni, 1_700_000_001, 1_700_000_033, 1);
    w.markGap(r, eni, 1_700_000_004, 1_700_000_021, 1);
    w.add(r, eni, pkt(1_700_000_022), 2);
    expect(w.closeAll().map((x) => [x.windowStart, x.logStatus, x.packets ?? x.skippedPackets])).toEqual([
      [1_700_000_000, 'OK', 1],
      [1_700_000_000, 'SKIPDATA', null],
      [1_700_000_010, 'SKIPDATA', null],
      [1_700_000_020, 'OK', 1],
      [1_700_000_020, 'SKIPDATA', null],
      [1_700_000_030, 'NODATA', null],
    ]);
  });

  it('does not mark windows already emitted', () => {
    const w = new FlowWindows({ allowedLateness: 0 });
    const r = rule({ aggregationInterval: 10 });
    w.add(r, eni, pkt(1_700_000_001), 0);
    w.advance(at('eni-a'), 1_700_000_011);
    expect(w.closeDue()).toHaveLength(1);
    w.markLive(r, eni, 1_700_000_005, 1_700_000_012, 1);
    expect(w.closeAll().map((x) => [x.windowStart, x.logStatus])).toEqual([[1_700_000_010, 'NODATA']]);
  });

  it('caps the flows it holds and reports the packets of further flows as SKIPDATA', () => {
    const w = new FlowWindows({ allowedLateness: 0, maxFlows: 2 });
    const r = rule();
    const results = [1, 2, 3, 4].map((port) =>
      w.add(r, eni, pkt(1_700_000_001, { protocol: 17, srcPort: port, dstPort: 53 }), port),
    );
    expect(results).toEqual(['added', 'added', 'capacity', 'capacity']);
    expect(w.add(r, eni, pkt(1_700_000_002, { protocol: 17, srcPort: 1, dstPort: 53 }), 5)).toBe('added'); // a known flow still counts
    const records = w.closeAll();
    expect(records.filter((x) => x.logStatus === 'OK').map((x) => x.packets)).toEqual([2, 1]);
    expect(records.find((x) => x.logStatus === 'SKIPDATA')).toMatchObject({ skippedPackets: 2 });
  });
});

describe('flow keys', () => {
  it('sums exactly what a plain string-keyed count sums, over ENIs, IPv4 and IPv6, ports, protocols and actions', () => {
    const enis: EniContext[] = [eni, { ...eni, eniId: 'eni-b' }];
    const subnetRule = rule({ resourceType: 'SUBNET', resourceId: 'subnet-1', aggregationInterval: 10 });
    const addrs = [
      '10.0.0.1',
      '10.0.0.2',
      '10.0.1.1',
      '2001:db8::1',
      '2001:db8::2',
      '2001:db8:0:1::1',
      '::ffff:10.0.0.1',
    ];
    let seed = 7;
    const next = (n: number) => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return (seed >>> 8) % n;
    };
    const w = new FlowWindows({ allowedLateness: Infinity });
    const expected = new Map<string, { packets: number; bytes: number }>();
    for (let i = 0; i < 5_000; i++) {
      const v6 = next(2) === 1;
      const pick = () => (v6 ? addrs[3 + next(4)] : addrs[next(3)]);
      const p = pkt(1_700_000_000 + next(30), {
        src: pick(),
        dst: pick(),
        protocol: [6, 17, 1][next(3)],
        srcPort: next(4),
        dstPort: next(3) * 1000,
        bytes: 40 + next(1000),
        action: next(5) === 0 ? 'REJECT' : 'ACCEPT',
      });
      const e = enis[next(2)];
      w.add(subnetRule, e, p, i);
      const key = [
        e.eniId,
        windowStartOf(p.ts, 10),
        p.src.join('.'),
        p.dst.join('.'),
        p.srcPort,
        p.dstPort,
        p.protocol,
        p.action,
      ].join('|');
      const sum = expected.get(key) ?? { packets: 0, bytes: 0 };
      sum.packets++;
      sum.bytes += p.bytes;
      expected.set(key, sum);
    }
    const records = w.closeAll();
    expect(records).toHaveLength(expected.size);
    const got = new Map(
      records.map((r) => {
        const [src, dst] = [parseIp(r.srcaddr!)!.bytes, parseIp(r.dstaddr!)!.bytes];
        const pad = (b: Uint8Array) => {
          const a = new Uint8Array(16);
          a.set(b);
          return a.join('.');
        };
        return [
          [r.interfaceId, r.windowStart, pad(src), pad(dst), r.srcport, r.dstport, r.protocol, r.action].join('|'),
          { packets: r.packets, bytes: r.bytes },
        ];
      }),
    );
    expect(got).toEqual(expected);
    expect(new Set(records.map((r) => r.recordId)).size).toBe(records.length);
  });
});

describe('RuleSet', () => {
  it('covers ENIs by ENI, subnet and VPC scope, enabled rules of the same account only', () => {
    const set = new RuleSet();
    set.apply('a', rule({ id: 'a' }));
    set.apply('b', rule({ id: 'b', resourceType: 'SUBNET', resourceId: 'subnet-1' }));
    set.apply('c', rule({ id: 'c', resourceType: 'VPC', resourceId: 'vpc-1' }));
    set.apply('d', rule({ id: 'd', enabled: false }));
    set.apply('e', rule({ id: 'e', accountId: '999' }));
    set.apply('f', rule({ id: 'f', resourceType: 'VPC', resourceId: 'vpc-2' }));
    expect(
      set
        .covering(eni)
        .map((r) => r.id)
        .sort(),
    ).toEqual(['a', 'b', 'c']);
    set.apply('a', null);
    expect(
      set
        .covering(eni)
        .map((r) => r.id)
        .sort(),
    ).toEqual(['b', 'c']);
  });

  it('keeps the newest revision when an older one is read later', () => {
    const set = new RuleSet();
    set.apply('a', rule({ id: 'a', revision: 2, enabled: false }));
    set.apply('a', rule({ id: 'a', revision: 1, enabled: true }));
    expect(set.covering(eni)).toEqual([]);
  });
});
