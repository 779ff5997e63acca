/**
 * Event-time tumbling windows of flow records, per flow-log rule and ENI: the pure core of the
 * aggregator, also used in-process by `flowlogs records`. No I/O; the caller feeds packets and asks
 * for the windows that are due. Each ENI has its own clock (event time, and what was emitted), so an
 * old capture replayed for one ENI is not late because another ENI beside it is live.
 */
import {
  FIELDS,
  bindingKey,
  recordIdOf,
  type FlowLogRule,
  type FlowRecord,
  type PacketEvent,
} from '@flowlogs/contracts';
import { FlowTable, newFlowView, type FlowView } from './flow-table.js';
import { ruleAccepts, type EniContext } from './rules.js';

/** One ENI's event time: how far its packets and reports have come, and which of its windows were emitted. */
interface EniClock {
  /** Account and ENI id (ENI ids are unique per account only): bindingKey. */
  key: string;
  eventTime: number;
  /** The end of its latest emitted window: its packets of windows ending at or before it are late. */
  closedThrough: number;
  /** The last input position that fed one of its windows. */
  lastPosition: number;
}

interface Window {
  /** Its number in the flow table. */
  id: number;
  rule: FlowLogRule;
  eni: EniContext;
  clock: EniClock;
  start: number;
  end: number;
  /** Its first and last flow's slot in the flow table (-1: none); records come out in the order flows began. */
  firstFlow: number;
  lastFlow: number;
  flows: number;
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

/** An ENI's key: its account and id (ENI ids are unique per account only). */
export const eniKeyOf = (eni: { accountId: string; eniId: string }): string => bindingKey(eni.accountId, eni.eniId);

/** An ENI's time to close windows at (by its eniKeyOf), when it is more than its event time (the caller knows it is idle or ended). */
export type CloseTimes = (eniKey: string) => number | undefined;

const NONE = -1;

export class FlowWindows {
  private readonly windows = new Map<string, Window>();
  private readonly table = new FlowTable();
  private readonly view: FlowView = newFlowView();
  private nextWindowId = 0;
  private readonly clocks = new Map<string, EniClock>();
  /** The last ENI object seen and its clock are remembered (a batch is one ENI). */
  private lastEni: EniContext | undefined;
  private lastClock: EniClock | undefined;
  /** The window the last packet went to: the next one most likely goes there too. */
  private lastWindow: Window | undefined;

  constructor(private readonly options: FlowWindowsOptions) {}

  private clock(key: string): EniClock {
    let clock = this.clocks.get(key);
    if (!clock)
      this.clocks.set(key, (clock = { key, eventTime: -Infinity, closedThrough: -Infinity, lastPosition: -1 }));
    return clock;
  }

  private clockOf(eni: EniContext): EniClock {
    if (eni !== this.lastEni) {
      this.lastEni = eni;
      this.lastClock = this.clock(eniKeyOf(eni));
    }
    return this.lastClock!;
  }

  get activeFlows(): number {
    return this.table.size;
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
  restore(emitted: Iterable<[eniKey: string, closedThrough: number]>): void {
    for (const [key, closedThrough] of emitted) {
      const clock = this.clock(key);
      clock.closedThrough = Math.max(clock.closedThrough, closedThrough);
      clock.eventTime = Math.max(clock.eventTime, closedThrough);
    }
  }

  /** True when the packet's window for this rule and ENI was emitted already (replayed input after a restart). */
  isEmitted(rule: FlowLogRule, eni: EniContext, ts: number): boolean {
    return windowStartOf(ts, rule.aggregationInterval) + rule.aggregationInterval <= this.clockOf(eni).closedThrough;
  }

  /**
   * What a restart replaying input from `position` needs: the emitted-through point of each ENI (by
   * eniKeyOf) whose input comes at or after it (other ENIs' windows are all emitted and none of their input is replayed).
   */
  emittedFrom(position: number): Array<[eniKey: string, closedThrough: number]> {
    const out: Array<[string, number]> = [];
    for (const c of this.clocks.values())
      if (c.lastPosition >= position && Number.isFinite(c.closedThrough)) out.push([c.key, c.closedThrough]);
    return out;
  }

  /** The ENI's event time has reached `ts` (a heartbeat: its source has read every packet up to it). */
  advance(eni: EniContext, ts: number): void {
    const clock = this.clockOf(eni);
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
    // The ENI's event time is what its source reports (advance): its packets may come behind their newest.
    const clock = this.clockOf(eni);
    const start = windowStartOf(p.ts, rule.aggregationInterval);
    const end = start + rule.aggregationInterval;
    const window = this.window(rule, eni, start, end, position);
    if (end <= clock.closedThrough) {
      window.skipped = (window.skipped ?? 0) + 1;
      return 'late';
    }
    if (this.table.addPacket(window.id, p)) return 'added';
    if (this.table.size >= (this.options.maxFlows ?? Infinity)) {
      window.skipped = (window.skipped ?? 0) + 1;
      return 'capacity';
    }
    window.lastFlow = this.table.insert(window.id, p, window.lastFlow);
    if (window.firstFlow === NONE) window.firstFlow = window.lastFlow;
    window.flows++;
    return 'added';
  }

  /** The ENI was capturing from `from` to `to` (unix s): each of this rule's windows in that span not yet emitted knows it. */
  markLive(rule: FlowLogRule, eni: EniContext, from: number, to: number, position: number): void {
    const interval = rule.aggregationInterval;
    const last = windowStartOf(to, interval);
    const closedThrough = this.clockOf(eni).closedThrough;
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
    const clock = this.clockOf(eni);
    if (w === undefined || w.rule !== rule || w.start !== start || w.clock !== clock) {
      const id = `${rule.id}|${clock.key}|${start}`;
      w = this.windows.get(id);
      if (!w) {
        w = {
          id: this.nextWindowId,
          rule,
          eni,
          clock,
          start,
          end,
          firstFlow: NONE,
          lastFlow: NONE,
          flows: 0,
          skipped: undefined,
          gap: false,
          live: false,
          minPosition: position,
          reopened: end <= clock.closedThrough,
        };
        // Numbers only tell open windows apart in the flow table: wrapping after 2^31 windows is harmless.
        this.nextWindowId = (this.nextWindowId + 1) & 0x7fffffff;
        this.windows.set(id, w);
      }
      this.lastWindow = w;
    }
    if (position < w.minPosition) w.minPosition = position;
    if (position > clock.lastPosition) clock.lastPosition = position;
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
    return this.close((w) => w.end <= Math.max(w.clock.eventTime, now?.(w.clock.key) ?? -Infinity) - lateness);
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
      (a.clock.key < b.clock.key ? -1 : 1);
    const closing = [...this.windows.entries()].filter(([, w]) => due(w)).sort(([, a], [, b]) => order(a, b));
    this.lastWindow = undefined;
    const { table, view } = this;
    for (const [id, w] of closing) {
      this.windows.delete(id);
      for (let s = w.firstFlow; s !== NONE; ) {
        out.push(flowRecord(w, table.read(s, view)));
        const next = table.next(s);
        table.free(s);
        s = next;
      }
      if (w.skipped !== undefined || w.gap) out.push(statusRecord(w, 'SKIPDATA', w.skipped ?? null));
      else if (w.live && !w.flows) out.push(statusRecord(w, 'NODATA', null));
    }
    for (const [, w] of closing) if (w.end > w.clock.closedThrough) w.clock.closedThrough = w.end;
    return out;
  }
}

// The records are built as literals in the contract's key order (as users read the JSON): one shape, no copies.
function flowRecord(w: Window, f: FlowView): FlowRecord {
  const { srcaddr, dstaddr } = f;
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
