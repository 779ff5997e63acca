import { describe, expect, it } from 'vitest';
import {
  IPV4_PACKET_BYTES,
  PACKET_BYTES,
  TUNNELLED_PACKET_BYTES,
  PacketBatchBuilder,
  PacketBatchFormatError,
  decodePacketBatch,
  encodePacketBatch,
  newPacketEvent,
  type PacketBatchHeader,
  type PacketEvent,
} from '../src/index.js';

const header: PacketBatchHeader = {
  eniId: 'eni-abc12345',
  accountId: '100000000001',
  vpcId: 'vpc-1',
  subnetId: 'subnet-1',
  agentId: 'agent-α',
  sequence: 42,
  eventTime: 1_700_000_123.5,
  live: false,
  ended: true,
  stats: {
    received: 10,
    dropped: 2,
    skipped: { 'non-ip': 3, truncated: 1, malformed: 0 },
    dropsBySecond: [
      [1_700_000_100, 1],
      [1_700_000_101, 1],
    ],
  },
};

function packet(i: number, v: 4 | 6): PacketEvent {
  const p = newPacketEvent();
  p.ts = 1_700_000_000.123456 + i;
  p.ipVersion = v;
  p.protocol = i % 2 ? 6 : 17;
  p.tcpFlags = i & 0x3f;
  p.action = i % 3 ? 'ACCEPT' : 'REJECT';
  p.direction = (['ingress', 'egress', undefined] as const)[i % 3];
  p.srcPort = 1000 + i;
  p.dstPort = 65535 - i;
  p.bytes = 40 + i * 1000;
  // IPv4 addresses take the first 4 bytes; the rest are zeros.
  p.src.fill(i, 0, v === 4 ? 4 : 16);
  p.dst.fill(255 - i, 0, v === 4 ? 4 : 16);
  return p;
}

/** A tunnelled packet i: its innermost addresses of IP version `inner`. */
function tunnelled(i: number, outer: 4 | 6, inner: 4 | 6): PacketEvent {
  const p = packet(i, outer);
  p.pktIpVersion = inner;
  p.pktSrc.fill(100 + i, 0, inner === 4 ? 4 : 16);
  p.pktDst.fill(200 - i, 0, inner === 4 ? 4 : 16);
  return p;
}

/** A batch holds its IPv4 packets first, then its IPv6 ones, then its tunnelled ones, each in the order they came. */
const batchOrder = (packets: PacketEvent[]) => [
  ...packets.filter((p) => p.ipVersion === 4 && !p.pktIpVersion),
  ...packets.filter((p) => p.ipVersion === 6 && !p.pktIpVersion),
  ...packets.filter((p) => p.pktIpVersion),
];

describe('packet batch codec', () => {
  it('round-trips the header and every packet field', () => {
    const packets = Array.from({ length: 50 }, (_, i) => packet(i, i % 2 ? 6 : 4));
    const view = decodePacketBatch(encodePacketBatch(header, packets));
    expect(view.header).toEqual({ ...header, stats: { ...header.stats, skipped: { 'non-ip': 3, truncated: 1 } } });
    expect(view.count).toBe(50);
    const out = newPacketEvent();
    batchOrder(packets).forEach((p, i) => expect(view.read(i, out)).toEqual(p));
  });

  it('round-trips tunnelled packets (GRE, IP-in-IP) with their innermost addresses, of either IP version inside either', () => {
    const packets = [
      packet(0, 4),
      tunnelled(1, 4, 4),
      packet(2, 6),
      tunnelled(3, 4, 6),
      tunnelled(4, 6, 4),
      tunnelled(5, 6, 6),
      packet(6, 4),
    ];
    const batch = encodePacketBatch(header, packets);
    expect(batch.length - encodePacketBatch(header, []).length).toBe(
      2 * IPV4_PACKET_BYTES + PACKET_BYTES + 4 * TUNNELLED_PACKET_BYTES,
    );
    const view = decodePacketBatch(batch);
    const out = newPacketEvent();
    batchOrder(packets).forEach((p, i) => expect(view.read(i, out)).toEqual(p));
    expect(view.read(3, out)).toMatchObject({
      ipVersion: 4,
      pktIpVersion: 4,
      pktSrc: new Uint8Array([101, 101, 101, 101, ...Array(12).fill(0)]),
    });
  });

  it('still reads version 2 batches (no tunnelled packets nor their count)', () => {
    const packets = [packet(1, 4), packet(2, 6), packet(3, 4)];
    const v3 = encodePacketBatch(header, packets);
    const counts = encodePacketBatch(header, []).length - 12;
    const v2 = Buffer.concat([Buffer.from([2]), v3.subarray(1, counts + 8), v3.subarray(counts + 12)]);
    const view = decodePacketBatch(v2);
    const out = newPacketEvent();
    expect(view.count).toBe(3);
    batchOrder(packets).forEach((p, i) => expect(view.read(i, out)).toEqual(p));
  });

  it('writes IPv4 packets in the short form: 24 bytes less each', () => {
    const v4 = Array.from({ length: 40 }, (_, i) => packet(i, 4));
    const short = encodePacketBatch(header, v4);
    const mixed = [...v4.slice(0, 20), packet(40, 6), ...v4.slice(20), packet(41, 6)];
    const long = encodePacketBatch(header, mixed);
    expect(long.length - short.length).toBe(2 * PACKET_BYTES);
    expect(short.length - encodePacketBatch(header, []).length).toBe(40 * IPV4_PACKET_BYTES);
    const out = newPacketEvent();
    const view = decodePacketBatch(long);
    // Reading an IPv4 packet after an IPv6 one leaves no IPv6 bytes behind in the event.
    view.read(40, out);
    batchOrder(mixed).forEach((p, i) => expect(view.read(i, out)).toEqual(p));
  });

  it('still reads version 1 batches (every packet with 16-byte addresses, in capture order)', () => {
    const packets = [packet(1, 4), packet(2, 6), packet(3, 4)];
    const v2 = encodePacketBatch(header, []);
    const headerBytes = v2.subarray(1, v2.length - 12);
    const body = Buffer.alloc(4 + packets.length * PACKET_BYTES);
    body.writeUInt32BE(packets.length, 0);
    packets.forEach((p, i) => {
      const o = 4 + i * PACKET_BYTES;
      body.writeDoubleBE(p.ts, o);
      body.set(
        [
          p.ipVersion,
          p.protocol,
          p.tcpFlags,
          (p.action === 'REJECT' ? 1 : 0) | (p.direction === 'ingress' ? 4 : p.direction === 'egress' ? 8 : 0),
        ],
        o + 8,
      );
      body.writeUInt16BE(p.srcPort, o + 12);
      body.writeUInt16BE(p.dstPort, o + 14);
      body.writeUInt32BE(p.bytes, o + 16);
      body.set(p.src, o + 20);
      body.set(p.dst, o + 36);
    });
    const v1 = Buffer.concat([Buffer.from([1]), headerBytes, body]);
    const out = newPacketEvent();
    const view = decodePacketBatch(v1);
    expect(view.header.eniId).toBe(header.eniId);
    packets.forEach((p, i) => expect(view.read(i, out)).toEqual(p));
  });

  it('encodes an empty batch (a heartbeat with stats only)', () => {
    const view = decodePacketBatch(encodePacketBatch(header, []));
    expect(view.count).toBe(0);
    expect(view.header.eniId).toBe('eni-abc12345');
  });

  it('rejects a wrong version, a truncated batch and a bad packet count with a clear error', () => {
    const buf = encodePacketBatch(header, [packet(1, 4)]);
    expect(() => decodePacketBatch(Buffer.from([9, ...buf.subarray(1)]))).toThrow(/version 9/);
    for (let n = 0; n < buf.length; n++) {
      expect(() => decodePacketBatch(buf.subarray(0, n))).toThrow(PacketBatchFormatError);
    }
  });
});

describe('PacketBatchBuilder', () => {
  const out = newPacketEvent();
  function expectPackets(batch: Buffer, packets: PacketEvent[], h: PacketBatchHeader = header) {
    const view = decodePacketBatch(batch);
    expect(view.header.sequence).toBe(h.sequence);
    expect(view.header.stats.dropsBySecond).toEqual(h.stats.dropsBySecond);
    expect(view.count).toBe(packets.length);
    batchOrder(packets).forEach((p, i) => expect(view.read(i, out)).toEqual(p));
  }

  it('full and partial batches, and batches after them, each hold their own bytes', () => {
    const builder = new PacketBatchBuilder(8);
    const packets = Array.from({ length: 30 }, (_, i) => packet(i, i % 2 ? 6 : 4));
    // Full (handed out without a copy), partial (copied), grown past its first size, empty.
    const sizes = [8, 3, 12, 0, 7];
    const batches: Array<[Buffer, PacketEvent[]]> = [];
    let next = 0;
    for (const size of sizes) {
      const part = packets.slice(next, next + size);
      next += size;
      part.forEach((p) => builder.append(p));
      expect(builder.count).toBe(size);
      batches.push([builder.finish({ ...header, sequence: batches.length }), part]);
      expect(builder.count).toBe(0);
    }
    // Appends after a batch was handed out must not have changed it.
    batches.forEach(([batch, part], i) => expectPackets(batch, part, { ...header, sequence: i }));
    // 8 packets (4 of each) against 7 (3 IPv4, 4 IPv6).
    expect(batches[0][0].length).toBe(batches[4][0].length + IPV4_PACKET_BYTES);
    // IPv4 only, in batches that fill, partly fill and grow the working buffer.
    for (const size of sizes) {
      const part = Array.from({ length: size }, (_, i) => packet(i, 4));
      part.forEach((p) => builder.append(p));
      const batch = builder.finish(header);
      expect(decodePacketBatch(batch).count).toBe(size);
      expectPackets(batch, part);
    }
  });

  it('IPv6 packets past the room the IPv4 ones leave', () => {
    const builder = new PacketBatchBuilder(8);
    const packets = [
      ...Array.from({ length: 7 }, (_, i) => packet(i, 4)),
      ...Array.from({ length: 70 }, (_, i) => packet(i, 6)),
      packet(99, 4),
    ];
    packets.forEach((p) => builder.append(p));
    expectPackets(builder.finish(header), packets);
  });

  it('a header too big for the room in front of the packets', () => {
    const big: PacketBatchHeader = {
      ...header,
      stats: {
        ...header.stats,
        dropsBySecond: Array.from({ length: 300 }, (_, i) => [1_700_000_000 + i, i + 1] as [number, number]),
      },
    };
    const builder = new PacketBatchBuilder(4);
    const packets = Array.from({ length: 4 }, (_, i) => packet(i, 4));
    packets.forEach((p) => builder.append(p));
    expectPackets(builder.finish(big), packets, big);
    packets.forEach((p) => builder.append(p));
    expectPackets(builder.finish(header), packets);
  });

  it('same bytes as the field-by-field encoding', () => {
    const p = packet(5, 6);
    p.ts = 1_700_000_000.9876542;
    p.bytes = 0xfedcba98;
    p.action = 'REJECT';
    p.direction = 'egress';
    const builder = new PacketBatchBuilder(1);
    builder.append(p);
    const batch = builder.finish(header);
    const at = batch.length - PACKET_BYTES;
    const expected = Buffer.alloc(PACKET_BYTES);
    expected.writeDoubleBE(p.ts, 0);
    expected.writeUInt8(6, 8);
    expected.writeUInt8(p.protocol, 9);
    expected.writeUInt8(p.tcpFlags, 10);
    expected.writeUInt8(0b1001, 11); // REJECT, egress
    expected.writeUInt16BE(p.srcPort, 12);
    expected.writeUInt16BE(p.dstPort, 14);
    expected.writeUInt32BE(p.bytes, 16);
    expected.set(p.src, 20);
    expected.set(p.dst, 36);
    expect(batch.subarray(at).toString('hex')).toBe(expected.toString('hex'));
  });

  it('same bytes for a tunnelled packet: the long form with 16-byte outer addresses, then the innermost ones', () => {
    const p = tunnelled(5, 4, 6);
    p.direction = 'ingress';
    const batch = encodePacketBatch(header, [p]);
    const at = batch.length - TUNNELLED_PACKET_BYTES;
    expect(batch[at + 8]).toBe(4);
    expect(batch[at + 11]).toBe(0b100100); // inner IPv6, ingress, ACCEPT
    expect(batch.subarray(at + 20, at + 52).toString('hex')).toBe(Buffer.concat([p.src, p.dst]).toString('hex'));
    expect(batch.subarray(at + 52).toString('hex')).toBe(Buffer.concat([p.pktSrc, p.pktDst]).toString('hex'));
  });

  it('addresses from views into larger arrays', () => {
    const p = packet(1, 6);
    const backing = new Uint8Array(64).map((_, i) => i);
    p.src = backing.subarray(8, 24);
    p.dst = backing.subarray(40, 56);
    expect(decodePacketBatch(encodePacketBatch(header, [p])).read(0, out)).toEqual({
      ...p,
      src: new Uint8Array(backing.subarray(8, 24)),
      dst: new Uint8Array(backing.subarray(40, 56)),
    });
  });

  it('ports and byte counts out of range throw as Buffer writes did', () => {
    for (const change of [{ srcPort: 65536 }, { dstPort: -1 }, { bytes: 2 ** 32 }, { bytes: -5 }]) {
      const builder = new PacketBatchBuilder(1);
      expect(() => builder.append({ ...packet(1, 4), ...change })).toThrow(RangeError);
      expect(builder.count).toBe(0);
    }
  });
});
