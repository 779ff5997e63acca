/**
 * Event-time tumbling windows of flow records, per flow-log rule: the pure core of the aggregator,
 * also used in-process by `flowlogs records`. No I/O; the caller feeds packets and asks for the
 * windows that are due.
 */
import { FlowRecord, recordIdOf, type FlowLogRule, type PacketEvent } from '@flowlogs/contracts';
import { formatIp } from '@flowlogs/packet';
import { ruleAccepts, type EniContext } from './rules.js';

interface Flow {
  eni: EniContext;
  ipVersion: 4 | 6;
  src: Uint8Array;
  dst: Uint8Array;
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
  flows: Map<string, Flow>;
  /** Packets lost for this window, per ENI: reported as SKIPDATA. */
  skipped: Map<string, { eni: EniContext; packets: number }>;
  /** ENIs known to be capturing during this window: one without traffic gets a NODATA record. */
  live: Map<string, EniContext>;
  /** The smallest input position (e.g. Kafka offset) that fed this window: input before it is fully emitted. */
  minPosition: number;
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

function addrKey(addr: Uint8Array, version: 4 | 6): string {
  if (version === 4) return String(((addr[0] << 24) | (addr[1] << 16) | (addr[2] << 8) | addr[3]) >>> 0);
  return Buffer.from(addr.buffer, addr.byteOffset, 16).toString('hex');
}

export class FlowWindows {
  private readonly windows = new Map<string, Window>();
  /** Highest packet timestamp seen. */
  private maxEventTime = -Infinity;
  /** The end of the latest emitted window: packets of windows ending at or before it are late. */
  private closedThrough = -Infinity;
  private flowCount = 0;

  constructor(private readonly options: FlowWindowsOptions) {}

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
    const key = `${eni.eniId}|${addrKey(p.src, p.ipVersion)}|${addrKey(p.dst, p.ipVersion)}|${p.srcPort}|${p.dstPort}|${p.protocol}|${p.action}`;
    const flow = window.flows.get(key);
    if (flow) {
      flow.packets++;
      flow.bytes += p.bytes;
      if (p.ts < flow.first) flow.first = p.ts;
      if (p.ts > flow.last) flow.last = p.ts;
      flow.tcpFlags |= p.tcpFlags;
      return 'added';
    }
    if (this.flowCount >= (this.options.maxFlows ?? Infinity)) {
      this.addSkipped(rule, eni, p.ts, 1, position);
      return 'capacity';
    }
    window.flows.set(key, {
      eni, ipVersion: p.ipVersion, src: p.src.slice(0, 16), dst: p.dst.slice(0, 16), srcPort: p.srcPort, dstPort: p.dstPort,
      protocol: p.protocol, action: p.action, direction: p.direction, packets: 1, bytes: p.bytes, first: p.ts, last: p.ts, tcpFlags: p.tcpFlags,
    });
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
    const id = `${rule.id}|${start}`;
    let w = this.windows.get(id);
    if (!w) {
      w = { rule, start, end, flows: new Map(), skipped: new Map(), live: new Map(), minPosition: position };
      this.windows.set(id, w);
    } else if (position < w.minPosition) {
      w.minPosition = position;
    }
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
    for (const [id, w] of closing) {
      this.windows.delete(id);
      this.flowCount -= w.flows.size;
      const withTraffic = new Set<string>();
      for (const flow of w.flows.values()) {
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

function recordBase(w: Window, eni: EniContext) {
  return {
    version: 2 as const, accountId: eni.accountId, interfaceId: eni.eniId, vpcId: eni.vpcId || null, subnetId: eni.subnetId || null,
    windowStart: w.start, windowEnd: w.end, flowLogId: w.rule.id, logTopicId: w.rule.logTopicId,
  };
}

const FIELD_ORDER = Object.keys(FlowRecord.shape) as (keyof FlowRecord)[];

/** Adds the record id, and puts the keys in the contract's order (as users read the JSON). */
function withId(r: Omit<FlowRecord, 'recordId'>): FlowRecord {
  const full: FlowRecord = { ...r, recordId: recordIdOf(r) };
  return Object.fromEntries(FIELD_ORDER.map((k) => [k, full[k]])) as FlowRecord;
}

function flowRecord(w: Window, f: Flow): FlowRecord {
  return withId({
    ...recordBase(w, f.eni),
    srcaddr: formatIp(f.src, f.ipVersion), dstaddr: formatIp(f.dst, f.ipVersion), srcport: f.srcPort, dstport: f.dstPort,
    protocol: f.protocol, packets: f.packets, bytes: f.bytes, start: Math.floor(f.first), end: Math.floor(f.last),
    action: f.action, logStatus: 'OK', tcpFlags: f.protocol === 6 ? f.tcpFlags : null, type: f.ipVersion === 4 ? 'IPv4' : 'IPv6',
    flowDirection: f.direction ?? null, skippedPackets: null,
  });
}

/** A record without a flow: NODATA (live, no traffic) or SKIPDATA (packets lost, how many). */
function statusRecord(w: Window, eni: EniContext, logStatus: 'NODATA' | 'SKIPDATA', skippedPackets: number | null): FlowRecord {
  return withId({
    ...recordBase(w, eni),
    srcaddr: null, dstaddr: null, srcport: null, dstport: null, protocol: null, packets: null, bytes: null, start: null, end: null,
    action: null, logStatus, tcpFlags: null, type: null, flowDirection: null, skippedPackets,
  });
}
