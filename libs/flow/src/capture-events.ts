/**
 * From captured frames to packet events: decoding, the ENI-relative direction, the verdict of an
 * nflog prefix, and the counters of what was skipped and why. Shared by the capture agent and the
 * offline `flowlogs records`, so both see the same packets.
 */
import type { PacketEvent } from '@flowlogs/contracts';
import {
  decodeFrame,
  newDecodedPacket,
  parseIp,
  type CaptureRecord,
  type DecodedPacket,
  type SkipReason,
} from '@flowlogs/packet';

export interface CaptureCounters {
  received: number;
  skipped: Record<string, number>;
}

function sameAddr(a: Uint8Array, b: Uint8Array, len: number): boolean {
  for (let i = 0; i < len; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class PacketEventDecoder {
  readonly counters: CaptureCounters = { received: 0, skipped: {} };
  private readonly decoded: DecodedPacket = newDecodedPacket();
  private readonly eniAddr: { version: 4 | 6; bytes: Uint8Array } | undefined;

  /** `eniIp`: the ENI's primary address, which tells egress (from it) from ingress (to it). */
  constructor(eniIp?: string) {
    this.eniAddr = eniIp ? parseIp(eniIp) : undefined;
    if (eniIp && !this.eniAddr) throw new Error(`not an IP address: ${eniIp}`);
  }

  /** Fills `out` from one captured frame; returns the skip reason (and counts it) when there is no IP packet. */
  decode(record: CaptureRecord, out: PacketEvent): SkipReason | null {
    this.counters.received++;
    const d = this.decoded;
    // The decoder writes the addresses straight into the event's arrays: no copy per packet.
    d.src = out.src;
    d.dst = out.dst;
    d.pktSrc = out.pktSrc;
    d.pktDst = out.pktDst;
    const end = record.frameStart + record.caplen;
    const reason = decodeFrame(record.linkType, record.data, record.frameStart, end, d, record.wireLen);
    if (reason) {
      this.counters.skipped[reason] = (this.counters.skipped[reason] ?? 0) + 1;
      return reason;
    }
    // A double near 1.7e9 s steps by ~2.4e-7 s: nanoseconds just under a second would round up into the next one (and window).
    const ts = record.tsSec + record.tsNanos / 1e9;
    out.ts = ts < record.tsSec + 1 ? ts : record.tsSec + 0.999999;
    out.ipVersion = d.ipVersion;
    out.protocol = d.protocol;
    out.tcpFlags = d.tcpFlags;
    out.srcPort = d.srcPort;
    out.dstPort = d.dstPort;
    out.bytes = d.bytes;
    out.pktIpVersion = d.pktIpVersion;
    out.action = d.nflogPrefix !== undefined && /drop|reject|deny/i.test(d.nflogPrefix) ? 'REJECT' : 'ACCEPT';
    out.direction = this.directionOf(d);
    return null;
  }

  /** Counts a capture that could not be read past some point (a corrupt file). */
  countFormatError(): void {
    this.counters.skipped['format-error'] = (this.counters.skipped['format-error'] ?? 0) + 1;
  }

  private directionOf(d: DecodedPacket): 'ingress' | 'egress' | undefined {
    const eni = this.eniAddr;
    if (!eni || eni.version !== d.ipVersion) return undefined;
    const len = eni.version === 4 ? 4 : 16;
    if (sameAddr(d.src, eni.bytes, len)) return 'egress';
    if (sameAddr(d.dst, eni.bytes, len)) return 'ingress';
    return undefined;
  }
}
