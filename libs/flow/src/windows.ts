/**
 * Event-time tumbling windows of flow records, per flow-log rule and ENI: the pure core of the
 * aggregator, also used in-process by `flowlogs records`. No I/O; the caller feeds packets and asks
 * for the windows that are due. Each ENI has its own clock (event time, and what was emitted), so an
 * old capture replayed for one ENI is not late because another ENI beside it is live.
 */
import { FIELDS, recordIdOf, type FlowLogRule, type FlowRecord, type PacketEvent } from '@flowlogs/contracts';
import { formatIp } from '@flowlogs/packet';
import { ruleAccepts, type EniContext } from './rules.js';

/**
 * One flow of a window. Its key lives in numbers (addresses as 32-bit words), so a packet finds its
 * flow without building a string, and a flow costs one small object of the heap.
 */
interface Flow {
  /** The next flow whose key hashes alike (the window's index holds the first). */
  next: Flow | undefined;
  ipVersion: 4 | 6;
  /** Source and destination address words, big-endian; IPv4 uses s0 and d0 only. */
  s0: number;
  s1: number;
  s2: number;
  s3: number;
  d0: number;
  d1: number;
  d2: number;
  d3: number;
  srcPort: number;
  dstPort: number;
  protocol: number;
  action: 'ACCEPT' | 'REJECT';
  direction: 'ingress' | 'egress' | undefined;
  packets: number;
  bytes: number;
  first: number;
  last: number;
  tcpFlags: number;
  /** The first packet's innermost addresses when it was tunnelled (pkt-srcaddr/dstaddr are not in the flow key). */
  pktSrcaddr: string | undefined;
  pktDstaddr: string | undefined;
}

/** One ENI's event time: how far its packets and reports have come, and which of its windows were emitted. */
interface EniClock {
  eniId: string;
  eventTime: number;
  /** The end of its latest emitted window: its packets of windows ending at or before it are late. */
  closedThrough: number;
  /** The last input position that fed one of its windows. */
  lastPosition: number;
}

interface Window {
  rule: FlowLogRule;
  eni: EniContext;
  clock: EniClock;
  start: number;
  end: number;
  /** The flows in the order they began (records come out in this order). */
  flows: Flow[];
  /** Flows by the hash of their key, chained through `next`. */
  index: Map<number, Flow>;
  /** Packets lost for this window: reported as SKIPDATA. */
  skipped: number | undefined;
  /** The ENI was not captured for part of this window (its agent restarted): SKIPDATA, how many unknown. */
  gap: boolean;
  /** The ENI was capturing during this window: without traffic it gets a NODATA record. */
  live: boolean;
  /** The smallest input position (e.g. Kafka offset) that fed this window: input before it is fully emitted. */
  minPosition: number;
  /** Opened for late packets after the window was emitted: its SKIPDATA record is a second one, told apart by minPosition. */
  reopened: boolean;
}

export interface FlowWindowsOptions {
  /** Seconds a window stays open after the watermark passes its end. */
  allowedLateness: number;
  /** Flows held at most (bounded memory); packets of new flows beyond it are counted in SKIPDATA. */
  maxFlows?: number;
}

/** What became of a packet given to add(). */
export type AddResult = 'added' | 'filtered' | 'late' | 'capacity';

/** Liveness marks windows one by one: a longer span than this many windows is marked at its end only. */
const MAX_LIVE_WINDOWS = 120;

export function windowStartOf(ts: number, interval: number): number {
  return Math.floor(ts / interval) * interval;
}

const word = (a: Uint8Array, i: number): number => (a[i] << 24) | (a[i + 1] << 16) | (a[i + 2] << 8) | a[i + 3];

/** A 30-bit hash of a flow key (a small integer, which a Map holds without boxing). */
function flowHash(
  s0: number,
  d0: number,
  ports: number,
  tail: number,
  s: Uint8Array,
  d: Uint8Array,
  v6: boolean,
): number {
  let h = Math.imul(s0 ^ 0x9e3779b9, 0x85ebca6b) ^ d0;
  h = Math.imul(h ^ (h >>> 15), 0xc2b2ae35) ^ ports;
  h = Math.imul(h ^ (h >>> 13), 0x27d4eb2f) ^ tail;
  if (v6)
    for (let i = 4; i < 16; i += 4)
      h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) ^ word(s, i) ^ Math.imul(word(d, i), 0x9e3779b9);
  return (h ^ (h >>> 16)) & 0x3fffffff;
}

/** An ENI's time to close windows at, when it is more than its event time (the caller knows it is idle or ended). */
export type CloseTimes = (eniId: string) => number | undefined;

export class FlowWindows {
  private readonly windows = new Map<string, Window>();
  private flowCount = 0;
  private readonly clocks = new Map<string, EniClock>();
  /** The last ENI object seen and its clock are remembered (a batch is one ENI). */
  private lastEni: EniContext | undefined;
  private lastClock: EniClock | undefined;
  /** The window the last packet went to: the next one most likely goes there too. */
  private lastWindow: Window | undefined;

  constructor(private readonly options: FlowWindowsOptions) {}

  private clock(eniId: string): EniClock {
    let clock = this.clocks.get(eniId);
    if (!clock)
      this.clocks.set(eniId, (clock = { eniId, eventTime: -Infinity, closedThrough: -Infinity, lastPosition: -1 }));
    return clock;
  }

  private clockOf(eni: EniContext): EniClock {
    if (eni !== this.lastEni) {
      this.lastEni = eni;
      this.lastClock = this.clock(eni.eniId);
    }
    return this.lastClock!;
  }

  get activeFlows(): number {
    return this.flowCount;
  }

  get openWindows(): number {
    return this.windows.size;
  }

  /** The smallest input position still held by an open window, or undefined when nothing is held. */
  minOpenPosition(): number | undefined {
    let min: number | undefined;
    for (const w of this.windows.values()) if (min === undefined || w.minPosition < min) min = w.minPosition;
    return min;
  }

  /** Restores each ENI's emitted-through point after a restart, so replayed input of emitted windows is not emitted twice. */
  restore(emitted: Iterable<[eniId: string, closedThrough: number]>): void {
    for (const [eniId, closedThrough] of emitted) {
      const clock = this.clock(eniId);
      clock.closedThrough = Math.max(clock.closedThrough, closedThrough);
      clock.eventTime = Math.max(clock.eventTime, closedThrough);
    }
  }

  /** True when the packet's window for this rule and ENI was emitted already (replayed input after a restart). */
  isEmitted(rule: FlowLogRule, eniId: string, ts: number): boolean {
    return (
      windowStartOf(ts, rule.aggregationInterval) + rule.aggregationInterval <=
      (this.clocks.get(eniId)?.closedThrough ?? -Infinity)
    );
  }

  /**
   * What a restart replaying input from `position` needs: the emitted-through point of each ENI
   * whose input comes at or after it (other ENIs' windows are all emitted and none of their input is replayed).
   */
  emittedFrom(position: number): Array<[eniId: string, closedThrough: number]> {
    const out: Array<[string, number]> = [];
    for (const c of this.clocks.values())
      if (c.lastPosition >= position && Number.isFinite(c.closedThrough)) out.push([c.eniId, c.closedThrough]);
    return out;
  }

  /** The ENI's event time has reached `ts` (a heartbeat: its source has read every packet up to it). */
  advance(eniId: string, ts: number): void {
    const clock = this.clock(eniId);
    if (ts > clock.eventTime) clock.eventTime = ts;
  }

  /** Counts packets lost before they reached us (capture drops) into their window's SKIPDATA record. */
  addSkipped(rule: FlowLogRule, eni: EniContext, ts: number, packets: number, position: number): void {
    const start = windowStartOf(ts, rule.aggregationInterval);
    const window = this.window(rule, eni, start, start + rule.aggregationInterval, position);
    window.skipped = (window.skipped ?? 0) + packets;
  }

  /**
   * Adds one packet for one rule. A packet of an emitted window ('late') or of a new flow past the
   * flow cap ('capacity') is counted in a SKIPDATA record of its window instead.
   */
  add(rule: FlowLogRule, eni: EniContext, p: PacketEvent, position: number): AddResult {
    if (!ruleAccepts(rule, p.action)) return 'filtered';
    const clock = this.clockOf(eni);
    if (p.ts > clock.eventTime) clock.eventTime = p.ts;
    const start = windowStartOf(p.ts, rule.aggregationInterval);
    const end = start + rule.aggregationInterval;
    const window = this.window(rule, eni, start, end, position);
    if (end <= clock.closedThrough) {
      window.skipped = (window.skipped ?? 0) + 1;
      return 'late';
    }
    const v6 = p.ipVersion === 6;
    const src = p.src;
    const dst = p.dst;
    const s0 = word(src, 0);
    const d0 = word(dst, 0);
    const actionBit = p.action === 'REJECT' ? 1 : 0;
    const tail = (p.protocol << 1) | actionBit;
    const hash = flowHash(s0, d0, p.srcPort * 65536 + p.dstPort, tail, src, dst, v6);
    const head = window.index.get(hash);
    for (let f = head; f !== undefined; f = f.next) {
      if (
        f.s0 !== s0 ||
        f.d0 !== d0 ||
        f.srcPort !== p.srcPort ||
        f.dstPort !== p.dstPort ||
        f.protocol !== p.protocol ||
        f.action !== p.action ||
        f.ipVersion !== p.ipVersion
      )
        continue;
      if (
        v6 &&
        (f.s1 !== word(src, 4) ||
          f.s2 !== word(src, 8) ||
          f.s3 !== word(src, 12) ||
          f.d1 !== word(dst, 4) ||
          f.d2 !== word(dst, 8) ||
          f.d3 !== word(dst, 12))
      )
        continue;
      f.packets++;
      f.bytes += p.bytes;
      if (p.ts < f.first) f.first = p.ts;
      if (p.ts > f.last) f.last = p.ts;
      f.tcpFlags |= p.tcpFlags;
      return 'added';
    }
    if (this.flowCount >= (this.options.maxFlows ?? Infinity)) {
      window.skipped = (window.skipped ?? 0) + 1;
      return 'capacity';
    }
    const flow: Flow = {
      next: head,
      ipVersion: p.ipVersion,
      s0,
      s1: v6 ? word(src, 4) : 0,
      s2: v6 ? word(src, 8) : 0,
      s3: v6 ? word(src, 12) : 0,
      d0,
      d1: v6 ? word(dst, 4) : 0,
      d2: v6 ? word(dst, 8) : 0,
      d3: v6 ? word(dst, 12) : 0,
      srcPort: p.srcPort,
      dstPort: p.dstPort,
      protocol: p.protocol,
      action: p.action,
      direction: p.direction,
      packets: 1,
      bytes: p.bytes,
      first: p.ts,
      last: p.ts,
      tcpFlags: p.tcpFlags,
      pktSrcaddr: p.pktIpVersion ? formatIp(p.pktSrc, p.pktIpVersion) : undefined,
      pktDstaddr: p.pktIpVersion ? formatIp(p.pktDst, p.pktIpVersion) : undefined,
    };
    window.index.set(hash, flow);
    window.flows.push(flow);
    this.flowCount++;
    return 'added';
  }

  /** The ENI was capturing from `from` to `to` (unix s): each of this rule's windows in that span not yet emitted knows it. */
  markLive(rule: FlowLogRule, eni: EniContext, from: number, to: number, position: number): void {
    const interval = rule.aggregationInterval;
    const last = windowStartOf(to, interval);
    const closedThrough = this.clock(eni.eniId).closedThrough;
    for (
      let start = Math.max(windowStartOf(from, interval), last - (MAX_LIVE_WINDOWS - 1) * interval);
      start <= last;
      start += interval
    ) {
      if (start + interval > closedThrough) this.window(rule, eni, start, start + interval, position).live = true;
    }
  }

  /**
   * The ENI was not captured from `from` to `to` (its agent died and came back): each of this rule's
   * windows in that span gets a SKIPDATA record, with the number of packets lost unknown (null).
   */
  markGap(rule: FlowLogRule, eni: EniContext, from: number, to: number, position: number): void {
    const interval = rule.aggregationInterval;
    const last = windowStartOf(to, interval);
    for (
      let start = Math.max(windowStartOf(from, interval), last - (MAX_LIVE_WINDOWS - 1) * interval);
      start <= last;
      start += interval
    ) {
      this.window(rule, eni, start, start + interval, position).gap = true;
    }
  }

  private window(rule: FlowLogRule, eni: EniContext, start: number, end: number, position: number): Window {
    let w = this.lastWindow;
    if (w === undefined || w.rule !== rule || w.start !== start || w.eni.eniId !== eni.eniId) {
      const id = `${rule.id}|${eni.eniId}|${start}`;
      w = this.windows.get(id);
      if (!w) {
        const clock = this.clockOf(eni);
        w = {
          rule,
          eni,
          clock,
          start,
          end,
          flows: [],
          index: new Map(),
          skipped: undefined,
          gap: false,
          live: false,
          minPosition: position,
          reopened: end <= clock.closedThrough,
        };
        this.windows.set(id, w);
      }
      this.lastWindow = w;
    }
    if (position < w.minPosition) w.minPosition = position;
    if (position > w.clock.lastPosition) w.clock.lastPosition = position;
    return w;
  }

  /**
   * Emits the windows whose end plus allowed lateness their ENI's event time has passed — or the
   * time `now` gives for the ENI, when later (its source is idle or has ended). Only emitted windows
   * become closed: a later packet of a window never opened is still taken (a second capture replayed
   * after the first one went idle is not late).
   */
  closeDue(now?: CloseTimes): FlowRecord[] {
    const lateness = this.options.allowedLateness;
    return this.close((w) => w.end <= Math.max(w.clock.eventTime, now?.(w.eni.eniId) ?? -Infinity) - lateness);
  }

  /** Emits every open window (end of input). */
  closeAll(): FlowRecord[] {
    return this.close(() => true);
  }

  private close(due: (w: Window) => boolean): FlowRecord[] {
    const out: FlowRecord[] = [];
    const order = (a: Window, b: Window) =>
      a.start - b.start ||
      (a.rule.id < b.rule.id ? -1 : a.rule.id > b.rule.id ? 1 : 0) ||
      (a.eni.eniId < b.eni.eniId ? -1 : 1);
    const closing = [...this.windows.entries()].filter(([, w]) => due(w)).sort(([, a], [, b]) => order(a, b));
    this.lastWindow = undefined;
    for (const [id, w] of closing) {
      this.windows.delete(id);
      this.flowCount -= w.flows.length;
      for (const flow of w.flows) out.push(flowRecord(w, flow));
      if (w.skipped !== undefined || w.gap) out.push(statusRecord(w, 'SKIPDATA', w.skipped ?? null));
      else if (w.live && !w.flows.length) out.push(statusRecord(w, 'NODATA', null));
    }
    for (const [, w] of closing) if (w.end > w.clock.closedThrough) w.clock.closedThrough = w.end;
    return out;
  }
}

/** An IPv6 address's words back in bytes, for formatIp. */
const scratch = new Uint8Array(16);
const scratchView = new DataView(scratch.buffer);

function formatAddress(ipVersion: 4 | 6, w0: number, w1: number, w2: number, w3: number): string {
  if (ipVersion === 4) return `${w0 >>> 24}.${(w0 >>> 16) & 255}.${(w0 >>> 8) & 255}.${w0 & 255}`;
  scratchView.setInt32(0, w0);
  scratchView.setInt32(4, w1);
  scratchView.setInt32(8, w2);
  scratchView.setInt32(12, w3);
  return formatIp(scratch, 6);
}

// The records are built as literals in the contract's key order (as users read the JSON): one shape, no copies.
function flowRecord(w: Window, f: Flow): FlowRecord {
  const srcaddr = formatAddress(f.ipVersion, f.s0, f.s1, f.s2, f.s3);
  const dstaddr = formatAddress(f.ipVersion, f.d0, f.d1, f.d2, f.d3);
  const r: FlowRecord = {
    version: 2,
    accountId: w.eni.accountId,
    interfaceId: w.eni.eniId,
    srcaddr,
    dstaddr,
    srcport: f.srcPort,
    dstport: f.dstPort,
    protocol: f.protocol,
    packets: f.packets,
    bytes: f.bytes,
    start: Math.floor(f.first),
    end: Math.floor(f.last),
    action: f.action,
    logStatus: 'OK',
    vpcId: w.eni.vpcId || null,
    subnetId: w.eni.subnetId || null,
    tcpFlags: f.protocol === 6 ? f.tcpFlags : null,
    type: f.ipVersion === 4 ? 'IPv4' : 'IPv6',
    flowDirection: f.direction ?? null,
    pktSrcaddr: f.pktSrcaddr ?? srcaddr,
    pktDstaddr: f.pktDstaddr ?? dstaddr,
    windowStart: w.start,
    windowEnd: w.end,
    flowLogId: w.rule.id,
    logTopicId: w.rule.logTopicId,
    skippedPackets: null,
    recordId: '',
  };
  r.recordId = recordIdOf(r);
  return r;
}

/**
 * A record without a flow: NODATA (live, no traffic) or SKIPDATA (packets lost, how many). The
 * SKIPDATA of a window reopened by late packets is a second record of that window: its id also
 * names the input position that reopened it, the same on every replay.
 */
function statusRecord(w: Window, logStatus: 'NODATA' | 'SKIPDATA', skippedPackets: number | null): FlowRecord {
  const eni = w.eni;
  const r: FlowRecord = {
    ...NO_FLOW,
    version: 2,
    accountId: eni.accountId,
    interfaceId: eni.eniId,
    logStatus,
    vpcId: eni.vpcId || null,
    subnetId: eni.subnetId || null,
    windowStart: w.start,
    windowEnd: w.end,
    flowLogId: w.rule.id,
    logTopicId: w.rule.logTopicId,
    skippedPackets,
    recordId: '',
  };
  r.recordId = recordIdOf(r, w.reopened ? `reopened@${w.minPosition}` : undefined);
  return r;
}

/** Every field null, in the contract's key order: a record without a flow sets those the field table keeps on it. */
const NO_FLOW = Object.fromEntries(FIELDS.map((f) => [f.key, null])) as { [K in keyof FlowRecord]: null };
