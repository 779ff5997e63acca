import { describe, it, expect } from 'vitest';
import {
  CaptureFormatError,
  CaptureParser,
  LinkType,
  SKIP_REASONS,
  buildEthernetFrame,
  buildIpPacket,
  decodePacket,
  newDecodedPacket,
  writePcap,
  writePcapng,
} from '../src/index.js';
import {
  ciscoHdlcFrame,
  fabricPathFrame,
  offloadedFrame,
  ppiFrame,
  pppFrame,
  pppoeEthernetFrame,
  wifiDataFrame,
} from './link-frames.js';

/** xorshift32: a fixed seed keeps every run's mutations the same. */
function xorshift(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

const ip4 = buildIpPacket({
  src: '10.1.2.3',
  dst: '10.3.2.1',
  protocol: 'tcp',
  srcPort: 80,
  dstPort: 5000,
  tcpFlags: 0x18,
  payloadLength: 40,
});
const ip6 = buildIpPacket({
  src: '2001:db8::1',
  dst: 'fe80::2',
  protocol: 'udp',
  srcPort: 53,
  dstPort: 5353,
  payloadLength: 20,
});
const icmp = buildIpPacket({ src: '192.0.2.1', dst: '192.0.2.2', protocol: 'icmp', payloadLength: 8 });

function nflogFrame(ip: Buffer): Buffer {
  const tlv = (type: number, value: Buffer) => {
    const out = Buffer.alloc((4 + value.length + 3) & ~3);
    out.writeUInt16LE(4 + value.length, 0);
    out.writeUInt16LE(type, 2);
    value.copy(out, 4);
    return out;
  };
  return Buffer.concat([Buffer.from([2, 0, 0, 1]), tlv(10, Buffer.from('drop\0')), tlv(9, ip)]);
}

const records = (frames: Buffer[]) => frames.map((frame, i) => ({ tsSec: 1000 + i, tsNanos: i * 7, frame }));

const seeds: Buffer[] = [
  writePcap(records([buildEthernetFrame(ip4), buildEthernetFrame(ip6, { vlan: [3, 4] }), buildEthernetFrame(icmp)])),
  writePcap(records([ip4, ip6, icmp]), { linkType: LinkType.RAW, nanos: true }),
  writePcap(records([nflogFrame(ip4), nflogFrame(icmp)]), { linkType: LinkType.NFLOG }),
  writePcapng(records([buildEthernetFrame(ip6), buildEthernetFrame(ip4, { vlan: [9] })])),
  writePcapng(records([Buffer.concat([Buffer.from([2, 0, 0, 0]), ip4])]), { linkType: LinkType.NULL }),
  writePcap(records([pppFrame(ip4), pppFrame(ip6, { compressed: true }), ciscoHdlcFrame(icmp)]), {
    linkType: LinkType.PPP_HDLC,
  }),
  writePcap(records([ciscoHdlcFrame(ip4), ciscoHdlcFrame(ip6)]), { linkType: LinkType.C_HDLC }),
  writePcap(
    records([pppoeEthernetFrame(ip4), fabricPathFrame(buildEthernetFrame(ip6, { vlan: [7] })), offloadedFrame(ip4)]),
  ),
  writePcapng(
    records([
      ppiFrame(wifiDataFrame(ip4, { qos: true }), LinkType.IEEE802_11, 12),
      ppiFrame(buildEthernetFrame(ip6), 1),
    ]),
    {
      linkType: LinkType.PPI,
    },
  ),
];

const EVERY_LINK_TYPE = Object.values(LinkType);

type Mutation = (file: Buffer, random: () => number) => Buffer;

const mutations: Mutation[] = [
  function flipBits(file, random) {
    const copy = Buffer.from(file);
    const flips = 1 + (random() % 8);
    for (let i = 0; i < flips; i++) copy[random() % copy.length] ^= 1 << (random() % 8);
    return copy;
  },
  function truncate(file, random) {
    return file.subarray(0, random() % file.length);
  },
  function bogusLength(file, random) {
    const copy = Buffer.from(file);
    // Lengths sit at 4-byte-aligned offsets in both formats; vary their size from 0 to huge.
    const at = (random() % (copy.length >> 2)) * 4;
    const values = [0, 1, 4, 8, 12, 0xffff, 0x40000, 0x40001, 0xfffffffc, 0xffffffff, random()];
    copy.writeUInt32LE(values[random() % values.length] >>> 0, Math.min(at, copy.length - 4));
    return copy;
  },
  function bogusHeaderField(file, random) {
    // IP total / payload lengths and IHL are 16-bit or 4-bit fields inside frames.
    const copy = Buffer.from(file);
    const at = random() % (copy.length - 1);
    copy.writeUInt16BE(random() & 0xffff, at);
    return copy;
  },
];

describe('fuzz', () => {
  it('5,000 mutated captures: only CaptureFormatError escapes, every decode returns, parsing ends', () => {
    const random = xorshift(0x5eed1234);
    const out = newDecodedPacket();
    const outcomes = { records: 0, decoded: 0, skipped: 0, formatErrors: 0 };
    for (let round = 0; round < 5000; round++) {
      const seed = seeds[random() % seeds.length];
      const file = mutations[random() % mutations.length](seed, random);
      const parser = new CaptureParser();
      try {
        for (let at = 0; at < file.length; ) {
          const chunkLength = 1 + (random() % 64);
          parser.push(file.subarray(at, at + chunkLength));
          at += chunkLength;
          for (let record = parser.next(); record; record = parser.next()) {
            outcomes.records++;
            const reason = decodePacket(record.linkType, record.frame, out, record.wireLen);
            if (reason === null) outcomes.decoded++;
            else {
              expect(SKIP_REASONS).toContain(reason);
              outcomes.skipped++;
            }
            // The same bytes under another link type must not throw either.
            decodePacket(EVERY_LINK_TYPE[random() % EVERY_LINK_TYPE.length], record.frame, out, record.wireLen);
          }
        }
        parser.end();
      } catch (error) {
        if (!(error instanceof CaptureFormatError)) throw error;
        outcomes.formatErrors++;
      }
    }
    expect(outcomes.records).toBeGreaterThan(5000);
    expect(outcomes.decoded).toBeGreaterThan(0);
    expect(outcomes.skipped).toBeGreaterThan(0);
    expect(outcomes.formatErrors).toBeGreaterThan(0);
  });

  it('random bytes as frames of every link type', () => {
    const random = xorshift(42);
    const out = newDecodedPacket();
    const linkTypes = [...EVERY_LINK_TYPE, 12, 14, 9999];
    for (let round = 0; round < 5000; round++) {
      const frame = Buffer.alloc(random() % 120);
      for (let i = 0; i < frame.length; i++) frame[i] = random() & 0xff;
      for (const linkType of linkTypes) {
        const reason = decodePacket(linkType, frame, out);
        expect(reason === null || SKIP_REASONS.includes(reason)).toBe(true);
      }
    }
  });
});
