/**
 * Flow records as tshark sees a capture, and their comparison with
 * `recordsFromCapture` (what `flowlogs records` prints): shared by
 * compare-records-tshark.ts and test/tshark-agreement.test.ts.
 *
 * The tshark side is aggregated here, independently of the decoder and of
 * FlowWindows: per (srcaddr, dstaddr, srcport, dstport, protocol) and tumbling
 * epoch-aligned window [k·I, (k+1)·I), packets, bytes (IPv4 total length /
 * IPv6 40 + payload length), start and end (whole seconds of the first and
 * last packet, taken from tshark's decimal text, not from a float).
 */
import type { FlowLogRule, FlowRecord } from '@flowlogs/contracts';
import { IP_FIELDS, outerIp, runTsharkFields } from '../../packet/scripts/tshark.js';
import { recordsFromCapture, type CaptureCounters } from '../src/index.js';

const FIELDS = ['frame.number', 'frame.time_epoch', 'ip.frag_offset', 'ipv6.fraghdr.offset', ...IP_FIELDS] as const;

export interface Flow {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  protocol: number;
  windowStart: number;
  packets: number;
  bytes: number;
  start: number;
  end: number;
}

export interface TsharkFlows {
  flows: Flow[];
  /** Frames tshark read. */
  frames: number;
  /** Frames without an IP layer (ARP, LLDP …), skipped as the decoder skips them. */
  nonIp: number;
  /** First frame number and protocol stack of each flow, for explaining differences. */
  firstFrame: Map<string, { frame: number; protocols: string }>;
}

export const ENI = { eniId: 'eni-x', accountId: '-', vpcId: '', subnetId: '' };

/**
 * IPv6 text in one canonical form (RFC 5952 compression, by the WHATWG URL
 * parser, which owes nothing to the decoder's formatIp), IPv4 as is.
 */
export function canonicalIp(text: string): string {
  if (!text.includes(':')) return text;
  try {
    return new URL(`http://[${text}]/`).hostname.slice(1, -1);
  } catch {
    return text;
  }
}

export function flowKey(f: Pick<Flow, 'src' | 'dst' | 'srcPort' | 'dstPort' | 'protocol' | 'windowStart'>): string {
  return `${canonicalIp(f.src)} ${canonicalIp(f.dst)} ${f.srcPort} ${f.dstPort} ${f.protocol} @${f.windowStart}`;
}

/** Whole seconds of tshark's `frame.time_epoch` text ("1700000039.999999950"). */
function epochSeconds(text: string): number {
  const dot = text.indexOf('.');
  const whole = Number(dot < 0 ? text : text.slice(0, dot));
  // Negative times floor away from zero; none are expected in captures.
  return whole < 0 && dot >= 0 && /[1-9]/.test(text.slice(dot + 1)) ? whole - 1 : whole;
}

/** Runs tshark over one capture and aggregates its IP packets into flows. */
export function tsharkFlows(path: string, interval: number): TsharkFlows {
  const rows = runTsharkFields(path, FIELDS);
  const flows = new Map<string, Flow>();
  const firstFrame = new Map<string, { frame: number; protocols: string }>();
  let nonIp = 0;
  for (const row of rows) {
    const ip = outerIp(row);
    if (!ip) {
      nonIp++;
      continue;
    }
    // Ports only in the first fragment (tshark does not dissect a non-first fragment's transport anyway).
    const fragmentOffset = Number((ip.ipVersion === 4 ? row['ip.frag_offset'] : row['ipv6.fraghdr.offset']) || 0);
    const second = epochSeconds(row['frame.time_epoch']);
    const windowStart = Math.floor(second / interval) * interval;
    const flow: Flow = {
      src: canonicalIp(ip.src),
      dst: canonicalIp(ip.dst),
      srcPort: fragmentOffset === 0 ? ip.srcPort : 0,
      dstPort: fragmentOffset === 0 ? ip.dstPort : 0,
      protocol: ip.protocol,
      windowStart,
      packets: 1,
      bytes: ip.bytes,
      start: second,
      end: second,
    };
    const key = flowKey(flow);
    const seen = flows.get(key);
    if (seen) {
      seen.packets++;
      seen.bytes += flow.bytes;
      seen.start = Math.min(seen.start, second);
      seen.end = Math.max(seen.end, second);
    } else {
      flows.set(key, flow);
      firstFrame.set(key, { frame: Number(row['frame.number']), protocols: row['frame.protocols'] });
    }
  }
  return { flows: [...flows.values()], frames: rows.length, nonIp, firstFrame };
}

/** Flow records (OK ones) in the same shape; records of one key and window with different actions are summed. */
export function recordsToFlows(records: readonly FlowRecord[]): Flow[] {
  const flows = new Map<string, Flow>();
  for (const r of records) {
    if (r.logStatus !== 'OK') continue;
    const flow: Flow = {
      src: canonicalIp(r.srcaddr ?? ''),
      dst: canonicalIp(r.dstaddr ?? ''),
      srcPort: r.srcport ?? -1,
      dstPort: r.dstport ?? -1,
      protocol: r.protocol ?? -1,
      windowStart: r.windowStart,
      packets: r.packets ?? 0,
      bytes: r.bytes ?? 0,
      start: r.start ?? -1,
      end: r.end ?? -1,
    };
    const key = flowKey(flow);
    const seen = flows.get(key);
    if (seen) {
      seen.packets += flow.packets;
      seen.bytes += flow.bytes;
      seen.start = Math.min(seen.start, flow.start);
      seen.end = Math.max(seen.end, flow.end);
    } else {
      flows.set(key, flow);
    }
  }
  return [...flows.values()];
}

const COMPARED = ['packets', 'bytes', 'start', 'end'] as const;

export interface FieldMismatch {
  key: string;
  field: (typeof COMPARED)[number];
  flowlogs: number;
  tshark: number;
}

export interface FlowComparison {
  /** Flows in both, every field equal. */
  matched: number;
  onlyInFlowlogs: Flow[];
  onlyInTshark: Flow[];
  /** Flows in both with some field different (one entry per field). */
  mismatches: FieldMismatch[];
  /** Flows in both with at least one field different. */
  mismatchedFlows: number;
}

/** Pure comparison of tshark's flows with flow records, per flow key and window. */
export function compareFlows(tsharkFlows: readonly Flow[], records: readonly FlowRecord[]): FlowComparison {
  const ours = new Map(recordsToFlows(records).map((f) => [flowKey(f), f]));
  const theirs = new Map(tsharkFlows.map((f) => [flowKey(f), f]));
  const result: FlowComparison = {
    matched: 0,
    onlyInFlowlogs: [],
    onlyInTshark: [],
    mismatches: [],
    mismatchedFlows: 0,
  };
  for (const [key, t] of theirs) {
    const o = ours.get(key);
    if (!o) {
      result.onlyInTshark.push(t);
      continue;
    }
    const differing = COMPARED.filter((field) => o[field] !== t[field]);
    for (const field of differing) result.mismatches.push({ key, field, flowlogs: o[field], tshark: t[field] });
    if (differing.length) result.mismatchedFlows++;
    else result.matched++;
  }
  for (const [key, o] of ours) if (!theirs.has(key)) result.onlyInFlowlogs.push(o);
  return result;
}

export function hasDifferences(c: FlowComparison): boolean {
  return c.onlyInFlowlogs.length + c.onlyInTshark.length + c.mismatches.length > 0;
}

export interface CaptureComparison {
  comparison: FlowComparison;
  tshark: TsharkFlows;
  records: FlowRecord[];
  counters: CaptureCounters;
}

/** Both sides for one capture file. */
export async function compareCapture(
  path: string,
  interval: FlowLogRule['aggregationInterval'],
): Promise<CaptureComparison> {
  const tshark = tsharkFlows(path, interval);
  const { records, counters } = await recordsFromCapture(path, { interval, eni: ENI });
  return { comparison: compareFlows(tshark.flows, records), tshark, records, counters };
}
