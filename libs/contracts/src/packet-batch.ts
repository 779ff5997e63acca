/**
 * The binary batch of packet events on the packets topic (key: ENI id).
 *
 * Layout (big-endian): u8 version | header | u32 count | u32 ipv6 count | u32 tunnelled count | the IPv4
 * packets | the IPv6 packets | the tunnelled packets.
 * header: five u16-length UTF-8 strings (eniId, accountId, vpcId, subnetId, agentId), f64 batch
 * sequence, f64 event time, u8 source flags (1 live, 2 ended), u32 received, u32 dropped, u8 n + n × (string reason, u32 count)
 * skipped, u16 n + n × (u32 unix second, u32 count) drops by second.
 * packet: f64 ts (unix s) | u8 ipVersion | u8 protocol | u8 tcpFlags | u8 flags | u16 srcPort |
 * u16 dstPort | u32 bytes | src | dst, the addresses of 4 bytes (IPv4, IPV4_PACKET_BYTES a packet)
 * or 16 (IPv6, PACKET_BYTES). flags: bits 0-1 action (0 ACCEPT, 1 REJECT), bits 2-3 direction
 * (0 unknown, 1 ingress, 2 egress), bits 4-5 the innermost IP version of a tunnelled packet (1 IPv4,
 * 2 IPv6). A tunnelled packet (GRE, IP-in-IP) is PACKET_BYTES with 16-byte outer addresses whatever
 * its IP version, then the innermost src and dst, 16 bytes each (TUNNELLED_PACKET_BYTES).
 * Fixed-size packets in two runs let the aggregator read any packet in place, without an object per
 * packet; short IPv4 packets make a batch 46 % smaller for every byte Kafka stores, copies and
 * checksums. The runs reorder a batch's packets (IPv4 first), which no flow record depends on.
 * Version 1 (no count of IPv6 packets; every packet of PACKET_BYTES, in capture order) and version 2
 * (no tunnelled packets nor their count) are still read.
 */
export const PACKET_BATCH_VERSION = 3;
export const PACKET_BYTES = 52;
export const IPV4_PACKET_BYTES = 28;
export const TUNNELLED_PACKET_BYTES = PACKET_BYTES + 32;

export interface PacketBatchHeader {
  eniId: string;
  accountId: string;
  vpcId: string;
  subnetId: string;
  agentId: string;
  /** Increases per ENI and agent run, so gaps and replays can be told apart. */
  sequence: number;
  /**
   * The ENI's event time, a watermark (unix s): the source's clock when the batch was made less how
   * far behind it the source's packets come, so every packet stamped before it has been read (the
   * aggregator closes windows by it, not by the newest packet). A batch with no packets is a
   * heartbeat: the ENI is live, and event time has reached this point.
   */
  eventTime: number;
  /** The source is live traffic (its event time is the wall clock), not a file being replayed. */
  live: boolean;
  /** The source has ended (a file read to its end): every window of its packets may close. */
  ended: boolean;
  /** Capture statistics for the packets of this batch's span. */
  stats: {
    received: number;
    /** Packets lost before they could be sent (kernel drops, a full queue). */
    dropped: number;
    skipped: Record<string, number>;
    /** The dropped packets per unix second of capture time, so each window's SKIPDATA says how many. */
    dropsBySecond: Array<[second: number, count: number]>;
  };
}

export interface PacketEvent {
  ts: number;
  ipVersion: 4 | 6;
  protocol: number;
  tcpFlags: number;
  action: 'ACCEPT' | 'REJECT';
  direction: 'ingress' | 'egress' | undefined;
  srcPort: number;
  dstPort: number;
  bytes: number;
  /** 16 bytes; IPv4 in the first 4. */
  src: Uint8Array;
  dst: Uint8Array;
  /** The innermost IP version of a GRE or IP-in-IP packet, whose addresses are pktSrc/pktDst; 0 when not tunnelled. */
  pktIpVersion: 0 | 4 | 6;
  pktSrc: Uint8Array;
  pktDst: Uint8Array;
}

export class PacketBatchFormatError extends Error {}

export function newPacketEvent(): PacketEvent {
  return {
    ts: 0,
    ipVersion: 4,
    protocol: 0,
    tcpFlags: 0,
    action: 'ACCEPT',
    direction: undefined,
    srcPort: 0,
    dstPort: 0,
    bytes: 0,
    src: new Uint8Array(16),
    dst: new Uint8Array(16),
    pktIpVersion: 0,
    pktSrc: new Uint8Array(16),
    pktDst: new Uint8Array(16),
  };
}

/** A copy of an event that owns its address arrays (decoders and readers reuse theirs). */
export function copyPacketEvent(e: PacketEvent): PacketEvent {
  return { ...e, src: e.src.slice(), dst: e.dst.slice(), pktSrc: e.pktSrc.slice(), pktDst: e.pktDst.slice() };
}

const DIRECTIONS = [undefined, 'ingress', 'egress'] as const;

function strLen(s: string): number {
  return 2 + Buffer.byteLength(s);
}

/** The header's encoded size and the parts that size depends on. */
interface HeaderPlan {
  size: number;
  strings: string[];
  skipped: Array<[string, number]>;
}

function planHeader(header: PacketBatchHeader): HeaderPlan {
  const skipped = Object.entries(header.stats.skipped).filter(([, n]) => n > 0);
  const strings = [header.eniId, header.accountId, header.vpcId, header.subnetId, header.agentId];
  // version, strings, sequence, event time, source flags, received, dropped, skipped, drops, the three counts
  let size = 1 + strings.reduce((n, s) => n + strLen(s), 0) + 8 + 8 + 1 + 4 + 4 + 1;
  size += 2 + header.stats.dropsBySecond.length * 8 + 12;
  for (const [reason] of skipped) size += strLen(reason) + 4;
  return { size, strings, skipped };
}

/** Writes the header (ending in the packet count) into `buf` at `start`; it takes exactly `plan.size` bytes. */
function writeHeader(
  buf: Buffer,
  start: number,
  header: PacketBatchHeader,
  plan: HeaderPlan,
  count: number,
  ipv6Count: number,
  tunnelledCount: number,
): void {
  const drops = header.stats.dropsBySecond;
  let o = buf.writeUInt8(PACKET_BATCH_VERSION, start);
  const writeStr = (s: string) => {
    const n = buf.write(s, o + 2, 'utf8');
    buf.writeUInt16BE(n, o);
    o += 2 + n;
  };
  plan.strings.forEach(writeStr);
  o = buf.writeDoubleBE(header.sequence, o);
  o = buf.writeDoubleBE(header.eventTime, o);
  o = buf.writeUInt8((header.live ? 1 : 0) | (header.ended ? 2 : 0), o);
  o = buf.writeUInt32BE(header.stats.received, o);
  o = buf.writeUInt32BE(header.stats.dropped, o);
  o = buf.writeUInt8(plan.skipped.length, o);
  for (const [reason, n] of plan.skipped) {
    writeStr(reason);
    o = buf.writeUInt32BE(n, o);
  }
  o = buf.writeUInt16BE(drops.length, o);
  for (const [second, n] of drops) {
    o = buf.writeUInt32BE(second, o);
    o = buf.writeUInt32BE(n, o);
  }
  o = buf.writeUInt32BE(count, o);
  o = buf.writeUInt32BE(ipv6Count, o);
  buf.writeUInt32BE(tunnelledCount, o);
}

/**
 * Room kept in front of the packets for the header, so a full batch is handed out without a copy.
 * A usual header (short ids, a few skip reasons) takes 100–200 bytes; a bigger one (many drop
 * seconds) is written into an exact-size output instead, with the packets copied once.
 */
const HEADER_ROOM = 512;

/** The range checks of Buffer's writeUInt16BE/writeUInt32BE, kept now that the fields are stored byte by byte. */
function outOfRange(name: string, value: number, max: number): RangeError {
  return new RangeError(`The value of "${name}" is out of range. It must be >= 0 and <= ${max}. Received ${value}`);
}

/** Packets of one long form (IPv6, or tunnelled) waiting in a buffer of their own until finish(). */
class SideRun {
  buf: Buffer = Buffer.alloc(0);
  view = new DataView(this.buf.buffer, this.buf.byteOffset, 0);
  /** Where the next packet goes. */
  o = 0;

  constructor(readonly packetBytes: number) {}

  /** Room for one more packet: doubles the buffer, keeping what it holds. */
  reserve(): void {
    if (this.o + this.packetBytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(64 * this.packetBytes, this.buf.length * 2));
    this.buf.copy(grown, 0, 0, this.o);
    this.buf = grown;
    this.view = new DataView(grown.buffer, grown.byteOffset, grown.length);
  }
}

/**
 * Appends packets in their wire form as they are decoded (no object kept per packet); finish() adds the header.
 *
 * The working buffer is HEADER_ROOM bytes of room, then the IPv4 packets; IPv6 and tunnelled packets
 * wait in buffers of their own and are copied after the IPv4 ones at finish(). finish() writes the
 * header just in front of the packets and hands the buffer out as the batch when it is at least half
 * full (a new working buffer replaces it); otherwise it copies header and packets once into an
 * exact-size batch and keeps the working buffer. Either way no output is shared with a later batch.
 */
export class PacketBatchBuilder {
  private buf: Buffer;
  private view: DataView;
  /** Where the next IPv4 packet goes. */
  private o = HEADER_ROOM;
  private readonly ipv6 = new SideRun(PACKET_BYTES);
  private readonly tunnelled = new SideRun(TUNNELLED_PACKET_BYTES);
  private packets = 0;

  constructor(initialPackets = 1024) {
    this.buf = Buffer.allocUnsafe(HEADER_ROOM + Math.max(1, initialPackets) * IPV4_PACKET_BYTES);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }

  get count(): number {
    return this.packets;
  }

  append(p: PacketEvent): void {
    const srcPort = p.srcPort;
    const dstPort = p.dstPort;
    const bytes = p.bytes;
    if (srcPort > 0xffff || srcPort < 0) throw outOfRange('value', srcPort, 0xffff);
    if (dstPort > 0xffff || dstPort < 0) throw outOfRange('value', dstPort, 0xffff);
    if (bytes > 0xffffffff || bytes < 0) throw outOfRange('value', bytes, 0xffffffff);
    const inner = p.pktIpVersion;
    const run = inner !== 0 ? this.tunnelled : p.ipVersion === 6 ? this.ipv6 : undefined;
    if (run) run.reserve();
    else if (this.o + IPV4_PACKET_BYTES > this.buf.length) this.grow();
    const buf = run ? run.buf : this.buf;
    const o = run ? run.o : this.o;
    (run ? run.view : this.view).setFloat64(o, p.ts); // big-endian
    buf[o + 8] = p.ipVersion;
    buf[o + 9] = p.protocol;
    buf[o + 10] = p.tcpFlags;
    buf[o + 11] =
      (p.action === 'REJECT' ? 1 : 0) |
      (p.direction === 'ingress' ? 4 : p.direction === 'egress' ? 8 : 0) |
      (inner === 4 ? 16 : inner === 6 ? 32 : 0);
    buf[o + 12] = srcPort >>> 8;
    buf[o + 13] = srcPort;
    buf[o + 14] = dstPort >>> 8;
    buf[o + 15] = dstPort;
    buf[o + 16] = bytes >>> 24;
    buf[o + 17] = bytes >>> 16;
    buf[o + 18] = bytes >>> 8;
    buf[o + 19] = bytes;
    const src = p.src;
    const dst = p.dst;
    if (!run) {
      buf[o + 20] = src[0];
      buf[o + 21] = src[1];
      buf[o + 22] = src[2];
      buf[o + 23] = src[3];
      buf[o + 24] = dst[0];
      buf[o + 25] = dst[1];
      buf[o + 26] = dst[2];
      buf[o + 27] = dst[3];
      this.o = o + IPV4_PACKET_BYTES;
    } else {
      for (let k = 0; k < 16; k++) {
        buf[o + 20 + k] = src[k];
        buf[o + 36 + k] = dst[k];
      }
      if (inner !== 0) {
        // The outer addresses are in their 16-byte form: an IPv4 one is followed by zeros.
        if (p.ipVersion === 4) for (let k = 4; k < 16; k++) buf[o + 20 + k] = buf[o + 36 + k] = 0;
        const pktSrc = p.pktSrc;
        const pktDst = p.pktDst;
        for (let k = 0; k < 16; k++) {
          buf[o + 52 + k] = pktSrc[k];
          buf[o + 68 + k] = pktDst[k];
        }
      }
      run.o = o + run.packetBytes;
    }
    this.packets++;
  }

  /** The encoded batch; the builder is empty again afterwards. */
  finish(header: PacketBatchHeader): Buffer {
    const count = this.packets;
    const ipv6Count = this.ipv6.o / PACKET_BYTES;
    const tunnelledCount = this.tunnelled.o / TUNNELLED_PACKET_BYTES;
    const plan = planHeader(header);
    const sideBytes = this.ipv6.o + this.tunnelled.o;
    if (this.o + sideBytes > this.buf.length) this.grow(sideBytes);
    this.ipv6.buf.copy(this.buf, this.o, 0, this.ipv6.o);
    this.tunnelled.buf.copy(this.buf, this.o + this.ipv6.o, 0, this.tunnelled.o);
    const end = this.o + sideBytes;
    const packetBytes = end - HEADER_ROOM;
    let out: Buffer;
    if (plan.size <= HEADER_ROOM && packetBytes * 2 >= this.buf.length - HEADER_ROOM) {
      const start = HEADER_ROOM - plan.size;
      writeHeader(this.buf, start, header, plan, count, ipv6Count, tunnelledCount);
      out = this.buf.subarray(start, end);
      this.buf = Buffer.allocUnsafe(this.buf.length);
      this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
    } else {
      out = Buffer.allocUnsafe(plan.size + packetBytes);
      writeHeader(out, 0, header, plan, count, ipv6Count, tunnelledCount);
      this.buf.copy(out, plan.size, HEADER_ROOM, end);
    }
    this.o = HEADER_ROOM;
    this.ipv6.o = 0;
    this.tunnelled.o = 0;
    this.packets = 0;
    return out;
  }

  /** Doubles the IPv4 buffer (with `extra` bytes more at least), keeping what it holds. */
  private grow(extra = 0): void {
    const packetRoom = Math.max((this.buf.length - HEADER_ROOM) * 2, this.o - HEADER_ROOM + extra);
    const grown = Buffer.allocUnsafe(HEADER_ROOM + packetRoom);
    this.buf.copy(grown, HEADER_ROOM, HEADER_ROOM, this.o);
    this.buf = grown;
    this.view = new DataView(grown.buffer, grown.byteOffset, grown.length);
  }
}

export function encodePacketBatch(header: PacketBatchHeader, packets: readonly PacketEvent[]): Buffer {
  const builder = new PacketBatchBuilder(Math.max(1, packets.length));
  for (const p of packets) builder.append(p);
  return builder.finish(header);
}

/** A decoded batch: the header, and the packets read in place into a caller's event. */
export interface PacketBatchView {
  header: PacketBatchHeader;
  count: number;
  /** Fills `out` with packet i (0 ≤ i < count) and returns it. */
  read(i: number, out: PacketEvent): PacketEvent;
}

export function decodePacketBatch(buf: Buffer): PacketBatchView {
  let o = 0;
  const need = (n: number) => {
    if (o + n > buf.length)
      throw new PacketBatchFormatError(`packet batch truncated at byte ${o} (needs ${n} more of ${buf.length})`);
  };
  const readStr = () => {
    need(2);
    const n = buf.readUInt16BE(o);
    need(2 + n);
    const s = buf.toString('utf8', o + 2, o + 2 + n);
    o += 2 + n;
    return s;
  };
  need(1);
  const version = buf[0];
  if (version < 1 || version > PACKET_BATCH_VERSION) {
    throw new PacketBatchFormatError(`unsupported packet batch version ${version}`);
  }
  o = 1;
  const [eniId, accountId, vpcId, subnetId, agentId] = [readStr(), readStr(), readStr(), readStr(), readStr()];
  need(26);
  const sequence = buf.readDoubleBE(o);
  const eventTime = buf.readDoubleBE(o + 8);
  const sourceFlags = buf[o + 16];
  const received = buf.readUInt32BE(o + 17);
  const dropped = buf.readUInt32BE(o + 21);
  const nSkipped = buf[o + 25];
  o += 26;
  const skipped: Record<string, number> = {};
  for (let i = 0; i < nSkipped; i++) {
    const reason = readStr();
    need(4);
    skipped[reason] = buf.readUInt32BE(o);
    o += 4;
  }
  need(2);
  const nDrops = buf.readUInt16BE(o);
  o += 2;
  need(nDrops * 8);
  const dropsBySecond: Array<[number, number]> = [];
  for (let i = 0; i < nDrops; i++, o += 8) dropsBySecond.push([buf.readUInt32BE(o), buf.readUInt32BE(o + 4)]);
  const countsBytes = version === 1 ? 4 : version === 2 ? 8 : 12;
  need(countsBytes);
  const count = buf.readUInt32BE(o);
  const ipv6Count = version === 1 ? 0 : buf.readUInt32BE(o + 4);
  const tunnelledCount = version < 3 ? 0 : buf.readUInt32BE(o + 8);
  o += countsBytes;
  const base = o;
  // Version 1: every packet has 16-byte addresses, IPv4 or not.
  const ipv4Count = version === 1 ? 0 : count - ipv6Count - tunnelledCount;
  const ipv6Base = base + ipv4Count * IPV4_PACKET_BYTES;
  const tunnelledFrom = count - tunnelledCount;
  const tunnelledBase = ipv6Base + (tunnelledFrom - ipv4Count) * PACKET_BYTES;
  if (ipv4Count < 0 || buf.length !== tunnelledBase + tunnelledCount * TUNNELLED_PACKET_BYTES) {
    throw new PacketBatchFormatError(
      `packet batch holds ${buf.length - base} packet bytes, expected ` +
        `${ipv4Count} × ${IPV4_PACKET_BYTES} + ${tunnelledFrom - ipv4Count} × ${PACKET_BYTES} + ` +
        `${tunnelledCount} × ${TUNNELLED_PACKET_BYTES}`,
    );
  }
  return {
    header: {
      eniId,
      accountId,
      vpcId,
      subnetId,
      agentId,
      sequence,
      eventTime,
      live: (sourceFlags & 1) !== 0,
      ended: (sourceFlags & 2) !== 0,
      stats: { received, dropped, skipped, dropsBySecond },
    },
    count,
    read(i, out) {
      const short = i < ipv4Count;
      const tunnelled = i >= tunnelledFrom;
      const p = short
        ? base + i * IPV4_PACKET_BYTES
        : tunnelled
          ? tunnelledBase + (i - tunnelledFrom) * TUNNELLED_PACKET_BYTES
          : ipv6Base + (i - ipv4Count) * PACKET_BYTES;
      out.ts = buf.readDoubleBE(p);
      const ipVersion = buf[p + 8];
      const long = tunnelled || version === 1;
      if (short ? ipVersion !== 4 : ipVersion !== 6 && (ipVersion !== 4 || !long)) {
        throw new PacketBatchFormatError(`packet ${i}: IP version ${ipVersion}`);
      }
      out.ipVersion = ipVersion as 4 | 6;
      out.protocol = buf[p + 9];
      out.tcpFlags = buf[p + 10];
      const flags = buf[p + 11];
      out.action = flags & 1 ? 'REJECT' : 'ACCEPT';
      out.direction = DIRECTIONS[(flags >> 2) & 3];
      const inner = (flags >> 4) & 3;
      if (tunnelled ? inner === 0 || inner === 3 : inner !== 0) {
        throw new PacketBatchFormatError(`packet ${i}: inner IP version bits ${inner}`);
      }
      out.pktIpVersion = inner === 1 ? 4 : inner === 2 ? 6 : 0;
      out.srcPort = buf.readUInt16BE(p + 12);
      out.dstPort = buf.readUInt16BE(p + 14);
      out.bytes = buf.readUInt32BE(p + 16);
      // Byte by byte: a subarray per address would be two objects per packet.
      const src = out.src;
      const dst = out.dst;
      if (short) {
        for (let k = 0; k < 4; k++) {
          src[k] = buf[p + 20 + k];
          dst[k] = buf[p + 24 + k];
        }
        for (let k = 4; k < 16; k++) src[k] = dst[k] = 0;
      } else {
        for (let k = 0; k < 16; k++) {
          src[k] = buf[p + 20 + k];
          dst[k] = buf[p + 36 + k];
        }
      }
      if (tunnelled) {
        const pktSrc = out.pktSrc;
        const pktDst = out.pktDst;
        for (let k = 0; k < 16; k++) {
          pktSrc[k] = buf[p + 52 + k];
          pktDst[k] = buf[p + 68 + k];
        }
      }
      return out;
    },
  };
}
