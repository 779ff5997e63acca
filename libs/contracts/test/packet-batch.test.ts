import { describe, expect, it } from 'vitest';
import { PacketBatchFormatError, decodePacketBatch, encodePacketBatch, newPacketEvent, type PacketBatchHeader, type PacketEvent } from '../src/index.js';

const header: PacketBatchHeader = {
  eniId: 'eni-abc12345', accountId: '100000000001', vpcId: 'vpc-1', subnetId: 'subnet-1', agentId: 'agent-α',
  sequence: 42, eventTime: 1_700_000_123.5, stats: { received: 10, dropped: 2, skipped: { 'non-ip': 3, truncated: 1, malformed: 0 }, dropsBySecond: [[1_700_000_100, 1], [1_700_000_101, 1]] },
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
  p.src.fill(i);
  p.dst.fill(255 - i);
  return p;
}

describe('packet batch codec', () => {
  it('round-trips the header and every packet field', () => {
    const packets = Array.from({ length: 50 }, (_, i) => packet(i, i % 2 ? 6 : 4));
    const view = decodePacketBatch(encodePacketBatch(header, packets));
    expect(view.header).toEqual({ ...header, stats: { ...header.stats, skipped: { 'non-ip': 3, truncated: 1 } } });
    expect(view.count).toBe(50);
    const out = newPacketEvent();
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
