/**
 * The binary batch of packet events on the packets topic (key: ENI id).
 *
 * Layout (big-endian): u8 version | header | u32 count | count × PACKET_BYTES fixed-size packets.
 * header: five u16-length UTF-8 strings (eniId, accountId, vpcId, subnetId, agentId), f64 batch
 * sequence, f64 event time, u32 received, u32 dropped, u8 n + n × (string reason, u32 count)
 * skipped, u16 n + n × (u32 unix second, u32 count) drops by second.
 * packet: f64 ts (unix s) | u8 ipVersion | u8 protocol | u8 tcpFlags | u8 flags | u16 srcPort |
 * u16 dstPort | u32 bytes | 16 src | 16 dst. flags: bits 0-1 action (0 ACCEPT, 1 REJECT),
 * bits 2-3 direction (0 unknown, 1 ingress, 2 egress).
 * Fixed-size packets let the aggregator read them in place, without an object per packet.
 */
export const PACKET_BATCH_VERSION = 1;
export const PACKET_BYTES = 52;

export interface PacketBatchHeader {
  eniId: string;
  accountId: string;
  vpcId: string;
  subnetId: string;
  agentId: string;
  /** Increases per ENI and agent run, so gaps and replays can be told apart. */
  sequence: number;
  /**
   * The source's clock when the batch was made (unix s): every packet up to it has been read. A
   * batch with no packets is a heartbeat: the ENI is live, and event time has reached this point.
   */
  eventTime: number;
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
}

export class PacketBatchFormatError extends Error {}

export function newPacketEvent(): PacketEvent {
  return { ts: 0, ipVersion: 4, protocol: 0, tcpFlags: 0, action: 'ACCEPT', direction: undefined, srcPort: 0, dstPort: 0, bytes: 0, src: new Uint8Array(16), dst: new Uint8Array(16) };
}

const DIRECTIONS = [undefined, 'ingress', 'egress'] as const;

function strLen(s: string): number {
  return 2 + Buffer.byteLength(s);
}

function writeHeader(header: PacketBatchHeader, count: number): Buffer {
  const skipped = Object.entries(header.stats.skipped).filter(([, n]) => n > 0);
  const strings = [header.eniId, header.accountId, header.vpcId, header.subnetId, header.agentId];
  const drops = header.stats.dropsBySecond;
  let size = 1 + strings.reduce((n, s) => n + strLen(s), 0) + 8 + 8 + 4 + 4 + 1 + 2 + drops.length * 8 + 4;
  for (const [reason] of skipped) size += strLen(reason) + 4;
  const buf = Buffer.allocUnsafe(size);
  let o = buf.writeUInt8(PACKET_BATCH_VERSION, 0);
  const writeStr = (s: string) => {
    const n = buf.write(s, o + 2, 'utf8');
    buf.writeUInt16BE(n, o);
    o += 2 + n;
  };
  strings.forEach(writeStr);
  o = buf.writeDoubleBE(header.sequence, o);
  o = buf.writeDoubleBE(header.eventTime, o);
  o = buf.writeUInt32BE(header.stats.received, o);
  o = buf.writeUInt32BE(header.stats.dropped, o);
  o = buf.writeUInt8(skipped.length, o);
  for (const [reason, n] of skipped) {
    writeStr(reason);
    o = buf.writeUInt32BE(n, o);
  }
  o = buf.writeUInt16BE(drops.length, o);
  for (const [second, n] of drops) {
    o = buf.writeUInt32BE(second, o);
    o = buf.writeUInt32BE(n, o);
  }
  buf.writeUInt32BE(count, o);
  return buf;
}

/** Appends packets in their wire form as they are decoded (no object kept per packet); finish() adds the header. */
export class PacketBatchBuilder {
  private buf: Buffer;
  private o = 0;

  constructor(initialPackets = 1024) {
    this.buf = Buffer.allocUnsafe(initialPackets * PACKET_BYTES);
  }

  get count(): number {
    return this.o / PACKET_BYTES;
  }

  append(p: PacketEvent): void {
    if (this.o + PACKET_BYTES > this.buf.length) {
      const grown = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(grown, 0, 0, this.o);
      this.buf = grown;
    }
    const buf = this.buf;
    const o = this.o;
    buf.writeDoubleBE(p.ts, o);
    buf[o + 8] = p.ipVersion;
    buf[o + 9] = p.protocol;
    buf[o + 10] = p.tcpFlags;
    buf[o + 11] = (p.action === 'REJECT' ? 1 : 0) | (p.direction === 'ingress' ? 4 : p.direction === 'egress' ? 8 : 0);
    buf.writeUInt16BE(p.srcPort, o + 12);
    buf.writeUInt16BE(p.dstPort, o + 14);
    buf.writeUInt32BE(p.bytes, o + 16);
    buf.set(p.src.subarray(0, 16), o + 20);
    buf.set(p.dst.subarray(0, 16), o + 36);
    this.o += PACKET_BYTES;
  }

  /** The encoded batch; the builder is empty again afterwards. */
  finish(header: PacketBatchHeader): Buffer {
    const out = Buffer.concat([writeHeader(header, this.count), this.buf.subarray(0, this.o)]);
    this.o = 0;
    return out;
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
    if (o + n > buf.length) throw new PacketBatchFormatError(`packet batch truncated at byte ${o} (needs ${n} more of ${buf.length})`);
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
  if (version !== PACKET_BATCH_VERSION) throw new PacketBatchFormatError(`unsupported packet batch version ${version}`);
  o = 1;
  const [eniId, accountId, vpcId, subnetId, agentId] = [readStr(), readStr(), readStr(), readStr(), readStr()];
  need(25);
  const sequence = buf.readDoubleBE(o);
  const eventTime = buf.readDoubleBE(o + 8);
  const received = buf.readUInt32BE(o + 16);
  const dropped = buf.readUInt32BE(o + 20);
  const nSkipped = buf[o + 24];
  o += 25;
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
  need(4);
  const count = buf.readUInt32BE(o);
  o += 4;
  const base = o;
  if (buf.length !== base + count * PACKET_BYTES) {
    throw new PacketBatchFormatError(`packet batch holds ${buf.length - base} packet bytes, expected ${count} × ${PACKET_BYTES}`);
  }
  return {
    header: { eniId, accountId, vpcId, subnetId, agentId, sequence, eventTime, stats: { received, dropped, skipped, dropsBySecond } },
    count,
    read(i, out) {
      const p = base + i * PACKET_BYTES;
      out.ts = buf.readDoubleBE(p);
      const ipVersion = buf[p + 8];
      if (ipVersion !== 4 && ipVersion !== 6) throw new PacketBatchFormatError(`packet ${i}: IP version ${ipVersion}`);
      out.ipVersion = ipVersion;
      out.protocol = buf[p + 9];
      out.tcpFlags = buf[p + 10];
      const flags = buf[p + 11];
      out.action = flags & 1 ? 'REJECT' : 'ACCEPT';
      out.direction = DIRECTIONS[(flags >> 2) & 3];
      out.srcPort = buf.readUInt16BE(p + 12);
      out.dstPort = buf.readUInt16BE(p + 14);
      out.bytes = buf.readUInt32BE(p + 16);
      out.src.set(buf.subarray(p + 20, p + 36));
      out.dst.set(buf.subarray(p + 36, p + 52));
      return out;
    },
  };
}
