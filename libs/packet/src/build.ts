/**
 * Building packets and writing capture files: for tests, the demo traffic
 * generator and benchmarks. Not a hot path, but PcapWriter streams so that
 * captures of millions of packets never sit in memory.
 */
import { once } from 'node:events';
import { writeSync, type WriteStream } from 'node:fs';
import { LinkType, parseIp } from './decode.js';

export interface PacketSpec {
  src: string;
  dst: string;
  protocol: 'tcp' | 'udp' | 'icmp' | number;
  srcPort?: number;
  dstPort?: number;
  tcpFlags?: number;
  /** Bytes after the transport header (zero-filled). */
  payloadLength?: number;
  /** TTL (IPv4) or hop limit (IPv6); default 64. */
  ttl?: number;
}

export interface CaptureInput {
  tsSec: number;
  tsNanos?: number;
  frame: Buffer;
  /** Length on the wire; defaults to the frame length. */
  wireLen?: number;
}

const PROTO_ICMP = 1;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
const PROTO_ICMPV6 = 58;
const PROTO_SCTP = 132;
const PROTO_UDPLITE = 136;

const ICMP_ECHO_REQUEST = 8;
const ICMPV6_ECHO_REQUEST = 128;

/**
 * An IPv4 or IPv6 packet (by the address family) with a TCP, UDP, UDP-Lite or
 * SCTP header carrying the ports, an ICMP/ICMPv6 echo request for 'icmp', or
 * just the payload for other protocol numbers. Length fields and the IPv4
 * header checksum are right; transport checksums are zero.
 */
export function buildIpPacket(spec: PacketSpec): Buffer {
  const src = parseIp(spec.src);
  const dst = parseIp(spec.dst);
  if (!src || !dst) throw new Error(`bad address in ${spec.src} -> ${spec.dst}`);
  if (src.version !== dst.version) throw new Error(`mixed address families in ${spec.src} -> ${spec.dst}`);
  const v6 = src.version === 6;
  const protocol =
    spec.protocol === 'tcp'
      ? PROTO_TCP
      : spec.protocol === 'udp'
        ? PROTO_UDP
        : spec.protocol === 'icmp'
          ? v6
            ? PROTO_ICMPV6
            : PROTO_ICMP
          : spec.protocol;
  const transport = buildTransportHeader(protocol, spec);
  const payloadLength = spec.payloadLength ?? 0;
  const ipHeaderLength = v6 ? 40 : 20;
  const packet = Buffer.alloc(ipHeaderLength + transport.length + payloadLength);
  const ttl = spec.ttl ?? 64;
  if (v6) {
    if (packet.length - 40 > 0xffff)
      throw new RangeError(`IPv6 payload of ${packet.length - 40} bytes needs a jumbogram`);
    packet.writeUInt32BE(0x60000000, 0);
    packet.writeUInt16BE(packet.length - 40, 4);
    packet[6] = protocol;
    packet[7] = ttl;
    packet.set(src.bytes, 8);
    packet.set(dst.bytes, 24);
  } else {
    if (packet.length > 0xffff) throw new RangeError(`IPv4 packet of ${packet.length} bytes is too long`);
    packet[0] = 0x45;
    packet.writeUInt16BE(packet.length, 2);
    packet[8] = ttl;
    packet[9] = protocol;
    packet.set(src.bytes, 12);
    packet.set(dst.bytes, 16);
    packet.writeUInt16BE(ipv4HeaderChecksum(packet, 20), 10);
  }
  transport.copy(packet, ipHeaderLength);
  if (protocol === PROTO_UDP || protocol === PROTO_UDPLITE) {
    // UDP length; for UDP-Lite the same field is the checksum coverage, where the full length is valid too.
    packet.writeUInt16BE(transport.length + payloadLength, ipHeaderLength + 4);
  }
  return packet;
}

/**
 * A tunnel packet from `outer` to … carrying the IP packet `inner`: IP-in-IP (protocol 4, or 41 for an
 * IPv6 inner packet) or GRE (47, RFC 2784, with an RFC 2890 key when `greKey` is given).
 */
export function buildTunnelPacket(
  outer: { src: string; dst: string },
  inner: Buffer,
  via: 'ip' | 'gre',
  greKey?: number,
): Buffer {
  const innerV6 = inner[0] >> 4 === 6;
  const gre = Buffer.alloc(via === 'gre' ? (greKey === undefined ? 4 : 8) : 0);
  if (via === 'gre') {
    gre[0] = greKey === undefined ? 0 : 0x20;
    gre.writeUInt16BE(innerV6 ? 0x86dd : 0x0800, 2);
    if (greKey !== undefined) gre.writeUInt32BE(greKey, 4);
  }
  const protocol = via === 'gre' ? 47 : innerV6 ? 41 : 4;
  const packet = buildIpPacket({ ...outer, protocol, payloadLength: gre.length + inner.length });
  const at = packet.length - inner.length;
  gre.copy(packet, at - gre.length);
  inner.copy(packet, at);
  return packet;
}

function buildTransportHeader(protocol: number, spec: PacketSpec): Buffer {
  let header: Buffer;
  switch (protocol) {
    case PROTO_TCP:
      header = Buffer.alloc(20);
      header[12] = 5 << 4; // data offset: 5 words, no options
      header[13] = spec.tcpFlags ?? 0;
      header.writeUInt16BE(0xffff, 14); // window
      break;
    case PROTO_UDP:
    case PROTO_UDPLITE:
      header = Buffer.alloc(8);
      break;
    case PROTO_SCTP:
      header = Buffer.alloc(12); // common header: ports, verification tag, checksum
      break;
    case PROTO_ICMP:
    case PROTO_ICMPV6:
      header = Buffer.alloc(8);
      header[0] = protocol === PROTO_ICMP ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST;
      return header;
    default:
      return Buffer.alloc(0);
  }
  header.writeUInt16BE(spec.srcPort ?? 0, 0);
  header.writeUInt16BE(spec.dstPort ?? 0, 2);
  return header;
}

function ipv4HeaderChecksum(packet: Buffer, headerLength: number): number {
  let sum = 0;
  for (let i = 0; i < headerLength; i += 2) sum += packet.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

const SOURCE_MAC = Buffer.from([0x02, 0, 0, 0, 0, 0x01]);
const DESTINATION_MAC = Buffer.from([0x02, 0, 0, 0, 0, 0x02]);

/**
 * Ethernet II frame around an IP packet. `vlan` lists VLAN ids outermost
 * first: the innermost tag is 802.1Q (0x8100), outer ones 802.1ad (0x88a8).
 */
export function buildEthernetFrame(ip: Buffer, opts: { vlan?: number[] } = {}): Buffer {
  const vlans = opts.vlan ?? [];
  const frame = Buffer.alloc(14 + vlans.length * 4 + ip.length);
  DESTINATION_MAC.copy(frame, 0);
  SOURCE_MAC.copy(frame, 6);
  let at = 12;
  vlans.forEach((id, index) => {
    if (!Number.isInteger(id) || id < 0 || id > 0xfff) throw new RangeError(`bad VLAN id ${id}`);
    frame.writeUInt16BE(index === vlans.length - 1 ? 0x8100 : 0x88a8, at);
    frame.writeUInt16BE(id, at + 2);
    at += 4;
  });
  frame.writeUInt16BE(ip[0] >> 4 === 6 ? 0x86dd : 0x0800, at);
  ip.copy(frame, at + 2);
  return frame;
}

const PCAP_MAGIC_MICROS = 0xa1b2c3d4;
const PCAP_MAGIC_NANOS = 0xa1b23c4d;
const DEFAULT_SNAPLEN = 262144;

export interface PcapOptions {
  linkType?: number;
  /** Nanosecond timestamps (magic a1b23c4d) instead of microseconds. */
  nanos?: boolean;
  /** Frames longer than this are cut; their wire length is kept. */
  snaplen?: number;
}

function pcapGlobalHeader(opts: PcapOptions): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(opts.nanos ? PCAP_MAGIC_NANOS : PCAP_MAGIC_MICROS, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(opts.snaplen ?? DEFAULT_SNAPLEN, 16);
  header.writeUInt32LE(opts.linkType ?? LinkType.ETHERNET, 20);
  return header;
}

function pcapRecordLength(record: CaptureInput, snaplen: number): number {
  return 16 + Math.min(record.frame.length, snaplen);
}

/** Writes one record at `at` of `target`; returns the offset after it. */
function writePcapRecord(target: Buffer, at: number, record: CaptureInput, opts: PcapOptions): number {
  const caplen = Math.min(record.frame.length, opts.snaplen ?? DEFAULT_SNAPLEN);
  const nanos = record.tsNanos ?? 0;
  target.writeUInt32LE(record.tsSec, at);
  target.writeUInt32LE(opts.nanos ? nanos : Math.floor(nanos / 1000), at + 4);
  target.writeUInt32LE(caplen, at + 8);
  target.writeUInt32LE(record.wireLen ?? record.frame.length, at + 12);
  record.frame.copy(target, at + 16, 0, caplen);
  return at + 16 + caplen;
}

/** A whole little-endian pcap file in memory. */
export function writePcap(records: Iterable<CaptureInput>, opts: PcapOptions = {}): Buffer {
  const list = [...records];
  const snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
  const header = pcapGlobalHeader(opts);
  const file = Buffer.alloc(list.reduce((total, record) => total + pcapRecordLength(record, snaplen), header.length));
  header.copy(file, 0);
  let at = header.length;
  for (const record of list) at = writePcapRecord(file, at, record, opts);
  return file;
}

/**
 * A whole little-endian pcapng file in memory: one section, one interface
 * with nanosecond resolution (if_tsresol 9), one EPB per record.
 */
export function writePcapng(records: Iterable<CaptureInput>, opts: { linkType?: number } = {}): Buffer {
  const blocks = [pcapngSectionHeader(), pcapngInterface(opts.linkType ?? LinkType.ETHERNET)];
  for (const record of records) blocks.push(pcapngEnhancedPacket(record));
  return Buffer.concat(blocks);
}

/** Frames a block body: type, total length, body, total length. */
function pcapngBlock(type: number, body: Buffer): Buffer {
  const length = 12 + body.length;
  const block = Buffer.alloc(length);
  block.writeUInt32LE(type, 0);
  block.writeUInt32LE(length, 4);
  body.copy(block, 8);
  block.writeUInt32LE(length, length - 4);
  return block;
}

function pcapngSectionHeader(): Buffer {
  const body = Buffer.alloc(16);
  body.writeUInt32LE(0x1a2b3c4d, 0);
  body.writeUInt16LE(1, 4);
  body.writeUInt16LE(0, 6);
  body.writeBigInt64LE(-1n, 8); // section length unknown
  return pcapngBlock(0x0a0d0d0a, body);
}

function pcapngInterface(linkType: number): Buffer {
  const body = Buffer.alloc(20);
  body.writeUInt16LE(linkType, 0);
  body.writeUInt32LE(0, 4); // snaplen: unlimited
  body.writeUInt16LE(9, 8); // if_tsresol
  body.writeUInt16LE(1, 10);
  body[12] = 9; // 10^-9 s
  // bytes 16..19: opt_endofopt
  return pcapngBlock(1, body);
}

function pcapngEnhancedPacket(record: CaptureInput): Buffer {
  const padded = (record.frame.length + 3) & ~3;
  const body = Buffer.alloc(20 + padded);
  const ticks = BigInt(record.tsSec) * 1_000_000_000n + BigInt(record.tsNanos ?? 0);
  body.writeUInt32LE(0, 0); // interface id
  body.writeUInt32LE(Number(ticks >> 32n), 4);
  body.writeUInt32LE(Number(ticks & 0xffffffffn), 8);
  body.writeUInt32LE(record.frame.length, 12);
  body.writeUInt32LE(record.wireLen ?? record.frame.length, 16);
  record.frame.copy(body, 20);
  return pcapngBlock(6, body);
}

const WRITE_BUFFER_BYTES = 1024 * 1024;

/**
 * Streaming little-endian pcap writer into a WriteStream or a file descriptor.
 * Records are batched into 1 MiB writes. With a stream, `write` returns false
 * when the stream wants the caller to `await writer.drain()` (as
 * stream.write does); with a descriptor, writes are synchronous and it always
 * returns true.
 */
export class PcapWriter {
  private readonly buffer = Buffer.allocUnsafe(WRITE_BUFFER_BYTES);
  private used = 0;
  private readonly snaplen: number;

  constructor(
    private readonly sink: WriteStream | number,
    private readonly opts: PcapOptions = {},
  ) {
    this.snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
    const header = pcapGlobalHeader(opts);
    header.copy(this.buffer, 0);
    this.used = header.length;
  }

  write(record: CaptureInput): boolean {
    const length = pcapRecordLength(record, this.snaplen);
    let writable = true;
    if (this.used + length > this.buffer.length) writable = this.flush();
    if (length > this.buffer.length) {
      // Only with a snaplen above the buffer size: write the record on its own.
      const single = Buffer.allocUnsafe(length);
      writePcapRecord(single, 0, record, this.opts);
      return this.emit(single) && writable;
    }
    this.used = writePcapRecord(this.buffer, this.used, record, this.opts);
    return writable;
  }

  /** Resolves when a stream sink has drained; immediately for a descriptor. */
  async drain(): Promise<void> {
    if (typeof this.sink !== 'number' && this.sink.writableNeedDrain) await once(this.sink, 'drain');
  }

  /** Writes what is buffered. Ends a stream sink (resolving once it is flushed to the file); a descriptor stays open for its owner. */
  async end(): Promise<void> {
    this.flush();
    if (typeof this.sink === 'number') return;
    const finished = once(this.sink, 'finish');
    this.sink.end();
    await finished;
  }

  /** Hands the buffered bytes to the sink; returns the stream's back-pressure answer. */
  private flush(): boolean {
    if (this.used === 0) return true;
    // A stream keeps a reference until written, so it gets its own copy; a descriptor write is done on return.
    const bytes =
      typeof this.sink === 'number'
        ? this.buffer.subarray(0, this.used)
        : Buffer.from(this.buffer.subarray(0, this.used));
    this.used = 0;
    return this.emit(bytes);
  }

  private emit(bytes: Buffer): boolean {
    if (typeof this.sink !== 'number') return this.sink.write(bytes);
    for (let written = 0; written < bytes.length; )
      written += writeSync(this.sink, bytes, written, bytes.length - written);
    return true;
  }
}
