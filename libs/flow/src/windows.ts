/**
 * Event-time tumbling windows of flow records, per flow-log rule: the pure core of the aggregator,
 * also used in-process by `flowlogs records`. No I/O; the caller feeds packets and asks for the
 * windows that are due.
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
  eni: EniContext;
  eniIndex: number;
  ipVersion: 4 | 6;
  /** Source and destination address words, big-endian; IPv4 uses s0 and d0 only. */
  s0: number; s1: number; s2: number; s3: number;
  d0: number; d1: number; d2: number; d3: number;
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
}

interface Window {
  rule: FlowLogRule;
  start: number;
  end: number;
  /** The flows in the order they began (records come out in this order). */
  flows: Flow[];
  /** Flows by the hash of their key, chained through `next`. */
  index: Map<number, Flow>;
  /** Packets lost for this window, per ENI: reported as SKIPDATA. */
  skipped: Map<string, { eni: EniContext; packets: number }>;
  /** ENIs known to be capturing during this window: one without traffic gets a NODATA record. */
  live: Map<string, EniContext>;
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
function flowHash(eniIndex: number, s0: number, d0: number, ports: number, tail: number, s: Uint8Array, d: Uint8Array, v6: boolean): number {
  let h = Math.imul(s0 ^ 0x9e3779b9, 0x85ebca6b) ^ d0;
  h = Math.imul(h ^ (h >>> 15), 0xc2b2ae35) ^ ports;
  h = Math.imul(h ^ (h >>> 13), 0x27d4eb2f) ^ tail ^ (eniIndex << 10);
  if (v6) for (let i = 4; i < 16; i += 4) h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) ^ word(s, i) ^ Math.imul(word(d, i), 0x9e3779b9);
  return (h ^ (h >>> 16)) & 0x3fffffff;
}

export class FlowWindows {
  private readonly windows = new Map<string, Window>();
  /** Highest packet timestamp seen. */
  private maxEventTime = -Infinity;
  /** The end of the latest emitted window: packets of windows ending at or before it are late. */
  private closedThrough = -Infinity;
  private flowCount = 0;
  /** A small number per ENI id, part of the flow key; the last ENI object seen is remembered (a batch is one ENI). */
  private readonly eniIndexes = new Map<string, number>();
  private lastEni: EniContext | undefined;
  private lastEniIndex = 0;
  /** The window the last packet went to: the next one most likely goes there too. */
  private lastWindow: Window | undefined;

  constructor(private readonly options: FlowWindowsOptions) {}

  private eniIndex(eni: EniContext): number {
    if (eni === this.lastEni) return this.lastEniIndex;
    let index = this.eniIndexes.get(eni.eniId);
    if (index === undefined) this.eniIndexes.set(eni.eniId, (index = this.eniIndexes.size));
    this.lastEni = eni;
    this.lastEniIndex = index;
    return index;
  }

  get watermark(): number {
    return this.maxEventTime;
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

  /** Restores the emitted-through point after a restart, so replayed input of emitted windows is not emitted twice. */
  restore(closedThrough: number): void {
    this.closedThrough = Math.max(this.closedThrough, closedThrough);
    this.maxEventTime = Math.max(this.maxEventTime, closedThrough);
  }

  /** True when the packet's window for this rule was emitted already (replayed input after a restart). */
  isEmitted(rule: FlowLogRule, ts: number): boolean {
    return windowStartOf(ts, rule.aggregationInterval) + rule.aggregationInterval <= this.closedThrough;
  }

  get emittedThrough(): number {
    return this.closedThrough;
  }

  /** Event time has reached `ts` (a heartbeat: the source has read every packet up to it). */
  advance(ts: number): void {
    if (ts > this.maxEventTime) this.maxEventTime = ts;
  }

  /** Counts packets lost before they reached us (capture drops) into their window's SKIPDATA record. */
  addSkipped(rule: FlowLogRule, eni: EniContext, ts: number, packets: number, position: number): void {
    const start = windowStartOf(ts, rule.aggregationInterval);
    const window = this.window(rule, start, start + rule.aggregationInterval, position);
    const skipped = window.skipped.get(eni.eniId) ?? { eni, packets: 0 };
    skipped.packets += packets;
    window.skipped.set(eni.eniId, skipped);
  }

  /**
   * Adds one packet for one rule. A packet of an emitted window ('late') or of a new flow past the
   * flow cap ('capacity') is counted in a SKIPDATA record of its window instead.
   */
  add(rule: FlowLogRule, eni: EniContext, p: PacketEvent, position: number): AddResult {
    if (!ruleAccepts(rule, p.action)) return 'filtered';
    if (p.ts > this.maxEventTime) this.maxEventTime = p.ts;
    const start = windowStartOf(p.ts, rule.aggregationInterval);
    const end = start + rule.aggregationInterval;
    const window = this.window(rule, start, end, position);
    if (end <= this.closedThrough) {
      this.addSkipped(rule, eni, p.ts, 1, position);
      return 'late';
    }
    const eniIndex = this.eniIndex(eni);
    const v6 = p.ipVersion === 6;
    const src = p.src;
    const dst = p.dst;
    const s0 = word(src, 0);
    const d0 = word(dst, 0);
    const actionBit = p.action === 'REJECT' ? 1 : 0;
    const tail = (p.protocol << 1) | actionBit;
    const hash = flowHash(eniIndex, s0, d0, p.srcPort * 65536 + p.dstPort, tail, src, dst, v6);
    const head = window.index.get(hash);
    for (let f = head; f !== undefined; f = f.next) {
      if (f.s0 !== s0 || f.d0 !== d0 || f.srcPort !== p.srcPort || f.dstPort !== p.dstPort || f.protocol !== p.protocol || f.action !== p.action || f.eniIndex !== eniIndex || f.ipVersion !== p.ipVersion) continue;
      if (v6 && (f.s1 !== word(src, 4) || f.s2 !== word(src, 8) || f.s3 !== word(src, 12) || f.d1 !== word(dst, 4) || f.d2 !== word(dst, 8) || f.d3 !== word(dst, 12))) continue;
      f.packets++;
      f.bytes += p.bytes;
      if (p.ts < f.first) f.first = p.ts;
      if (p.ts > f.last) f.last = p.ts;
      f.tcpFlags |= p.tcpFlags;
      return 'added';
    }
    if (this.flowCount >= (this.options.maxFlows ?? Infinity)) {
      this.addSkipped(rule, eni, p.ts, 1, position);
      return 'capacity';
    }
    const flow: Flow = {
      next: head, eni, eniIndex, ipVersion: p.ipVersion,
      s0, s1: v6 ? word(src, 4) : 0, s2: v6 ? word(src, 8) : 0, s3: v6 ? word(src, 12) : 0,
      d0, d1: v6 ? word(dst, 4) : 0, d2: v6 ? word(dst, 8) : 0, d3: v6 ? word(dst, 12) : 0,
      srcPort: p.srcPort, dstPort: p.dstPort, protocol: p.protocol, action: p.action, direction: p.direction,
      packets: 1, bytes: p.bytes, first: p.ts, last: p.ts, tcpFlags: p.tcpFlags,
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
    for (let start = Math.max(windowStartOf(from, interval), last - (MAX_LIVE_WINDOWS - 1) * interval); start <= last; start += interval) {
      if (start + interval > this.closedThrough) this.window(rule, start, start + interval, position).live.set(eni.eniId, eni);
    }
  }

  private window(rule: FlowLogRule, start: number, end: number, position: number): Window {
    let w = this.lastWindow;
    if (w === undefined || w.rule !== rule || w.start !== start) {
      const id = `${rule.id}|${start}`;
      w = this.windows.get(id);
      if (!w) {
        w = { rule, start, end, flows: [], index: new Map(), skipped: new Map(), live: new Map(), minPosition: position, reopened: end <= this.closedThrough };
        this.windows.set(id, w);
      }
      this.lastWindow = w;
    }
    if (position < w.minPosition) w.minPosition = position;
    return w;
  }

  /**
   * Emits the windows whose end plus allowed lateness the watermark (or `now`, when idle) has passed.
   * Only emitted windows become closed: a later packet of a window never opened is still taken (a
   * second capture replayed after the first one went idle is not late).
   */
  closeDue(now = this.maxEventTime): FlowRecord[] {
    const through = now - this.options.allowedLateness;
    return this.close((w) => w.end <= through);
  }

  /** Emits every open window (end of input). */
  closeAll(): FlowRecord[] {
    return this.close(() => true);
  }

  private close(due: (w: Window) => boolean): FlowRecord[] {
    const out: FlowRecord[] = [];
    const closing = [...this.windows.entries()].filter(([, w]) => due(w)).sort(([, a], [, b]) => a.start - b.start || (a.rule.id < b.rule.id ? -1 : 1));
    this.lastWindow = undefined;
    for (const [id, w] of closing) {
      this.windows.delete(id);
      this.flowCount -= w.flows.length;
      const withTraffic = new Set<string>();
      for (const flow of w.flows) {
        out.push(flowRecord(w, flow));
        withTraffic.add(flow.eni.eniId);
      }
      for (const { eni, packets } of w.skipped.values()) out.push(statusRecord(w, eni, 'SKIPDATA', packets));
      for (const [eniId, eni] of w.live) {
        if (!withTraffic.has(eniId) && !w.skipped.has(eniId)) out.push(statusRecord(w, eni, 'NODATA', null));
      }
    }
    for (const [, w] of closing) if (w.end > this.closedThrough) this.closedThrough = w.end;
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
  const r: FlowRecord = {
    version: 2, accountId: f.eni.accountId, interfaceId: f.eni.eniId,
    srcaddr: formatAddress(f.ipVersion, f.s0, f.s1, f.s2, f.s3), dstaddr: formatAddress(f.ipVersion, f.d0, f.d1, f.d2, f.d3),
    srcport: f.srcPort, dstport: f.dstPort, protocol: f.protocol, packets: f.packets, bytes: f.bytes,
    start: Math.floor(f.first), end: Math.floor(f.last), action: f.action, logStatus: 'OK',
    vpcId: f.eni.vpcId || null, subnetId: f.eni.subnetId || null, tcpFlags: f.protocol === 6 ? f.tcpFlags : null,
    type: f.ipVersion === 4 ? 'IPv4' : 'IPv6', flowDirection: f.direction ?? null,
    windowStart: w.start, windowEnd: w.end, flowLogId: w.rule.id, logTopicId: w.rule.logTopicId, skippedPackets: null, recordId: '',
  };
  r.recordId = recordIdOf(r);
  return r;
}

/**
 * A record without a flow: NODATA (live, no traffic) or SKIPDATA (packets lost, how many). The
 * SKIPDATA of a window reopened by late packets is a second record of that window: its id also
 * names the input position that reopened it, the same on every replay.
 */
function statusRecord(w: Window, eni: EniContext, logStatus: 'NODATA' | 'SKIPDATA', skippedPackets: number | null): FlowRecord {
  const r: FlowRecord = {
    ...NO_FLOW, version: 2, accountId: eni.accountId, interfaceId: eni.eniId, logStatus,
    vpcId: eni.vpcId || null, subnetId: eni.subnetId || null,
    windowStart: w.start, windowEnd: w.end, flowLogId: w.rule.id, logTopicId: w.rule.logTopicId, skippedPackets, recordId: '',
  };
  r.recordId = recordIdOf(r, w.reopened ? `reopened@${w.minPosition}` : undefined);
  return r;
}

/** Every field null, in the contract's key order: a record without a flow sets those the field table keeps on it. */
const NO_FLOW = Object.fromEntries(FIELDS.map((f) => [f.key, null])) as { [K in keyof FlowRecord]: null };
