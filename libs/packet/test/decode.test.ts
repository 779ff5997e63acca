import { describe, it, expect } from 'vitest';
import {
  LinkType,
  SKIP_REASONS,
  buildEthernetFrame,
  buildIpPacket,
  buildTunnelPacket,
  decodePacket,
  formatIp,
  newDecodedPacket,
  parseIp,
  type DecodedPacket,
  type PacketSpec,
} from '../src/index.js';
import {
  ciscoHdlcFrame,
  fabricPathFrame,
  offloadedFrame,
  ppiFrame,
  pppFrame,
  pppoeEthernetFrame,
  pppoeSession,
  wifiDataFrame,
} from './link-frames.js';

/** Decodes and returns a plain snapshot with addresses as text, or the skip reason. */
function decode(linkType: number, frame: Uint8Array, out: DecodedPacket = newDecodedPacket()) {
  const reason = decodePacket(linkType, frame, out);
  if (reason) return reason;
  return {
    ipVersion: out.ipVersion,
    src: formatIp(out.src, out.ipVersion),
    dst: formatIp(out.dst, out.ipVersion),
    protocol: out.protocol,
    srcPort: out.srcPort,
    dstPort: out.dstPort,
    bytes: out.bytes,
    tcpFlags: out.tcpFlags,
    nflogPrefix: out.nflogPrefix,
  };
}

const SYN_ACK = 0x12;
const tcp4: PacketSpec = {
  src: '10.0.0.1',
  dst: '192.168.1.20',
  protocol: 'tcp',
  srcPort: 40000,
  dstPort: 443,
  tcpFlags: SYN_ACK,
  payloadLength: 100,
};
const tcp4Expected = {
  ipVersion: 4,
  src: '10.0.0.1',
  dst: '192.168.1.20',
  protocol: 6,
  srcPort: 40000,
  dstPort: 443,
  bytes: 140,
  tcpFlags: SYN_ACK,
  nflogPrefix: undefined,
};
const udp6: PacketSpec = {
  src: '2001:db8::1',
  dst: '2001:db8::53',
  protocol: 'udp',
  srcPort: 5353,
  dstPort: 53,
  payloadLength: 30,
};
const udp6Expected = {
  ipVersion: 6,
  src: '2001:db8::1',
  dst: '2001:db8::53',
  protocol: 17,
  srcPort: 5353,
  dstPort: 53,
  bytes: 78,
  tcpFlags: 0,
  nflogPrefix: undefined,
};

function u16be(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
}

function ethernetHeader(etherType: number): Buffer {
  return Buffer.concat([Buffer.alloc(12, 0x02), u16be(etherType)]);
}

function sll(ip: Buffer, protocol = ip[0] >> 4 === 6 ? 0x86dd : 0x0800): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt16BE(0, 0); // packet type: to us
  header.writeUInt16BE(1, 2); // ARPHRD_ETHER
  header.writeUInt16BE(6, 4);
  header.writeUInt16BE(protocol, 14);
  return Buffer.concat([header, ip]);
}

function sll2(ip: Buffer, protocol = ip[0] >> 4 === 6 ? 0x86dd : 0x0800): Buffer {
  const header = Buffer.alloc(20);
  header.writeUInt16BE(protocol, 0);
  header.writeUInt32BE(3, 4); // interface index
  header.writeUInt16BE(1, 8); // ARPHRD_ETHER
  return Buffer.concat([header, ip]);
}

function nflogTlv(type: number, value: Buffer): Buffer {
  const length = 4 + value.length;
  const tlv = Buffer.alloc((length + 3) & ~3);
  tlv.writeUInt16LE(length, 0);
  tlv.writeUInt16LE(type, 2);
  value.copy(tlv, 4);
  return tlv;
}

function nflog(family: number, tlvs: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from([family, 0, 0, 5]), ...tlvs]);
}

const NFULA_PACKET_HDR = 1;
const NFULA_PAYLOAD = 9;
const NFULA_PREFIX = 10;

function nflogFrame(ip: Buffer, prefix: string): Buffer {
  const family = ip[0] >> 4 === 6 ? 10 : 2;
  return nflog(family, [
    nflogTlv(NFULA_PACKET_HDR, Buffer.from([0x08, 0x00, 1, 0])),
    nflogTlv(NFULA_PREFIX, Buffer.from(`${prefix}\0`)),
    nflogTlv(NFULA_PAYLOAD, ip),
  ]);
}

function withFamily(family: Buffer, ip: Buffer): Buffer {
  return Buffer.concat([family, ip]);
}

function u32(value: number, littleEndian: boolean): Buffer {
  const b = Buffer.alloc(4);
  if (littleEndian) b.writeUInt32LE(value);
  else b.writeUInt32BE(value);
  return b;
}

/** Leaves the header checksum stale: the decoder does not check it. */
function ipv4WithOptions(spec: PacketSpec, options: Buffer): Buffer {
  const plain = buildIpPacket(spec);
  const packet = Buffer.concat([plain.subarray(0, 20), options, plain.subarray(20)]);
  packet[0] = 0x40 | ((20 + options.length) / 4);
  packet.writeUInt16BE(packet.length, 2);
  return packet;
}

function ipv4Fragment(spec: PacketSpec, offsetUnits: number, moreFragments: boolean): Buffer {
  const packet = buildIpPacket(spec);
  packet.writeUInt16BE((moreFragments ? 0x2000 : 0) | offsetUnits, 6);
  return packet;
}

/** IPv6 with the given extension headers (each [type, body]) inserted before the transport. */
function ipv6WithExtensions(spec: PacketSpec, extensions: Array<[number, Buffer]>): Buffer {
  const plain = buildIpPacket(spec);
  const transportProtocol = plain[6];
  const parts: Buffer[] = [plain.subarray(0, 40)];
  extensions.forEach(([, body], index) => {
    const next = index + 1 < extensions.length ? extensions[index + 1][0] : transportProtocol;
    parts.push(Buffer.concat([Buffer.from([next]), body]));
  });
  parts.push(plain.subarray(40));
  const packet = Buffer.concat(parts);
  packet[6] = extensions[0][0];
  packet.writeUInt16BE(packet.length - 40, 4);
  return packet;
}

/** Hop-by-hop / destination options / routing body: length byte 0 (8 bytes total) and PadN. */
const EIGHT_BYTE_OPTIONS = Buffer.from([0, 1, 4, 0, 0, 0, 0]);
function fragmentHeaderBody(offsetUnits: number, moreFragments: boolean): Buffer {
  const body = Buffer.alloc(7);
  body.writeUInt16BE((offsetUnits << 3) | (moreFragments ? 1 : 0), 1);
  body.writeUInt32BE(0x12345678, 3);
  return body;
}

describe('decodePacket link layers', () => {
  const ip4 = buildIpPacket(tcp4);
  const ip6 = buildIpPacket(udp6);

  it('Ethernet II', () => {
    expect(decode(LinkType.ETHERNET, buildEthernetFrame(ip4))).toEqual(tcp4Expected);
    expect(decode(LinkType.ETHERNET, buildEthernetFrame(ip6))).toEqual(udp6Expected);
  });

  it('802.1Q, QinQ and 0x9100 tag stacks', () => {
    expect(decode(LinkType.ETHERNET, buildEthernetFrame(ip4, { vlan: [100] }))).toEqual(tcp4Expected);
    const qinq = buildEthernetFrame(ip6, { vlan: [10, 20] });
    expect(qinq.readUInt16BE(12)).toBe(0x88a8);
    expect(qinq.readUInt16BE(16)).toBe(0x8100);
    expect(decode(LinkType.ETHERNET, qinq)).toEqual(udp6Expected);
    const triple = Buffer.concat([
      ethernetHeader(0x9100),
      Buffer.from([0, 1, 0x88, 0xa8, 0, 2, 0x81, 0x00, 0, 3, 0x08, 0x00]),
      ip4,
    ]);
    expect(decode(LinkType.ETHERNET, triple)).toEqual(tcp4Expected);
  });

  it('802.3 with LLC: only SNAP carrying IP is decoded', () => {
    const snap = (etherType: number, ip: Buffer) =>
      Buffer.concat([ethernetHeader(8 + ip.length), Buffer.from([0xaa, 0xaa, 0x03, 0, 0, 0]), u16be(etherType), ip]);
    expect(decode(LinkType.ETHERNET, snap(0x0800, ip4))).toEqual(tcp4Expected);
    expect(decode(LinkType.ETHERNET, snap(0x86dd, ip6))).toEqual(udp6Expected);
    expect(decode(LinkType.ETHERNET, snap(0x0806, Buffer.alloc(28)))).toBe('non-ip');
    const stp = Buffer.concat([ethernetHeader(38), Buffer.from([0x42, 0x42, 0x03]), Buffer.alloc(35)]);
    expect(decode(LinkType.ETHERNET, stp)).toBe('non-ip');
    expect(decode(LinkType.ETHERNET, ethernetHeader(38))).toBe('truncated');
  });

  it('non-IP EtherTypes are skipped as non-ip', () => {
    expect(decode(LinkType.ETHERNET, Buffer.concat([ethernetHeader(0x0806), Buffer.alloc(28)]))).toBe('non-ip');
    expect(decode(LinkType.ETHERNET, Buffer.concat([ethernetHeader(0x88cc), Buffer.alloc(40)]))).toBe('non-ip');
    expect(
      decode(
        LinkType.ETHERNET,
        Buffer.concat([ethernetHeader(0x8100), Buffer.from([0, 5, 0x08, 0x06]), Buffer.alloc(28)]),
      ),
    ).toBe('non-ip');
  });

  it('Linux cooked v1 and v2', () => {
    expect(decode(LinkType.LINUX_SLL, sll(ip4))).toEqual(tcp4Expected);
    expect(decode(LinkType.LINUX_SLL, sll(ip6))).toEqual(udp6Expected);
    expect(decode(LinkType.LINUX_SLL2, sll2(ip4))).toEqual(tcp4Expected);
    expect(decode(LinkType.LINUX_SLL2, sll2(ip6))).toEqual(udp6Expected);
    expect(decode(LinkType.LINUX_SLL, sll(Buffer.alloc(28), 0x0806))).toBe('non-ip');
    expect(decode(LinkType.LINUX_SLL2, sll2(Buffer.alloc(28), 0x0004))).toBe('non-ip');
    const tagged = sll(Buffer.concat([Buffer.from([0, 7, 0x08, 0x00]), ip4]), 0x8100);
    expect(decode(LinkType.LINUX_SLL, tagged)).toEqual(tcp4Expected);
  });

  it('raw IP under every raw link type value', () => {
    for (const linkType of [LinkType.RAW, 12, 14]) {
      expect(decode(linkType, ip4)).toEqual(tcp4Expected);
      expect(decode(linkType, ip6)).toEqual(udp6Expected);
    }
    expect(decode(LinkType.IPV4, ip4)).toEqual(tcp4Expected);
    expect(decode(LinkType.IPV6, ip6)).toEqual(udp6Expected);
    expect(decode(LinkType.IPV4, ip6)).toBe('malformed');
    expect(decode(LinkType.IPV6, ip4)).toBe('malformed');
    expect(decode(LinkType.RAW, Buffer.from([0x50, 0, 0, 0]))).toBe('malformed');
  });

  it('BSD NULL in both byte orders, and LOOP', () => {
    expect(decode(LinkType.NULL, withFamily(u32(2, true), ip4))).toEqual(tcp4Expected);
    expect(decode(LinkType.NULL, withFamily(u32(2, false), ip4))).toEqual(tcp4Expected);
    for (const family of [24, 28, 30]) {
      expect(decode(LinkType.NULL, withFamily(u32(family, true), ip6))).toEqual(udp6Expected);
      expect(decode(LinkType.NULL, withFamily(u32(family, false), ip6))).toEqual(udp6Expected);
    }
    expect(decode(LinkType.NULL, withFamily(u32(7, true), Buffer.alloc(20)))).toBe('non-ip');
    expect(decode(LinkType.LOOP, withFamily(u32(2, false), ip4))).toEqual(tcp4Expected);
    expect(decode(LinkType.LOOP, withFamily(u32(24, false), ip6))).toEqual(udp6Expected);
    expect(decode(LinkType.LOOP, withFamily(u32(2, true), ip4))).toBe('non-ip');
  });

  it('NFLOG with prefix and payload', () => {
    expect(decode(LinkType.NFLOG, nflogFrame(ip4, 'accept'))).toEqual({ ...tcp4Expected, nflogPrefix: 'accept' });
    expect(decode(LinkType.NFLOG, nflogFrame(ip6, 'drop'))).toEqual({ ...udp6Expected, nflogPrefix: 'drop' });
    // Payload before prefix; no prefix at all.
    const reordered = nflog(2, [nflogTlv(NFULA_PAYLOAD, ip4), nflogTlv(NFULA_PREFIX, Buffer.from('sg-1\0'))]);
    expect(decode(LinkType.NFLOG, reordered)).toMatchObject({ nflogPrefix: 'sg-1', srcPort: 40000 });
    expect(decode(LinkType.NFLOG, nflog(2, [nflogTlv(NFULA_PAYLOAD, ip4)]))).toEqual(tcp4Expected);
  });

  it('NFLOG reuses the previous prefix string and clears it for other link types', () => {
    const out = newDecodedPacket();
    decodePacket(LinkType.NFLOG, nflogFrame(ip4, 'accept'), out);
    const first = out.nflogPrefix;
    decodePacket(LinkType.NFLOG, nflogFrame(ip6, 'accept'), out);
    expect(out.nflogPrefix).toBe(first);
    decodePacket(LinkType.NFLOG, nflogFrame(ip6, 'drop'), out);
    expect(out.nflogPrefix).toBe('drop');
    decodePacket(LinkType.RAW, ip4, out);
    expect(out.nflogPrefix).toBeUndefined();
  });

  it('NFLOG without payload, with a non-IP family, with a bad TLV', () => {
    expect(decode(LinkType.NFLOG, nflog(2, [nflogTlv(NFULA_PREFIX, Buffer.from('x\0'))]))).toBe('truncated');
    expect(decode(LinkType.NFLOG, nflog(7, [nflogTlv(NFULA_PAYLOAD, ip4)]))).toBe('non-ip');
    const zeroLength = Buffer.concat([nflog(2, []), Buffer.from([2, 0, 9, 0])]);
    expect(decode(LinkType.NFLOG, zeroLength)).toBe('malformed');
  });

  it('NFLOG payload cut by the snaplen still decodes', () => {
    const frame = nflogFrame(ip4, 'accept');
    expect(decode(LinkType.NFLOG, frame.subarray(0, frame.length - 50))).toEqual({
      ...tcp4Expected,
      nflogPrefix: 'accept',
    });
  });

  it('unknown link types', () => {
    expect(decode(147, ip4)).toBe('unsupported-link');
    expect(SKIP_REASONS).toEqual(['non-ip', 'truncated', 'malformed', 'unsupported-link']);
  });
});

describe('decodePacket: PPP, Cisco HDLC, PPPoE, FabricPath, PPI, 802.11', () => {
  const ip4 = buildIpPacket(tcp4);
  const ip6 = buildIpPacket(udp6);

  it('PPP with and without HDLC-like framing, protocol field compressed or not', () => {
    for (const linkType of [LinkType.PPP, LinkType.PPP_HDLC]) {
      expect(decode(linkType, pppFrame(ip4))).toEqual(tcp4Expected);
      expect(decode(linkType, pppFrame(ip6))).toEqual(udp6Expected);
      expect(decode(linkType, pppFrame(ip4, { framing: false }))).toEqual(tcp4Expected);
      expect(decode(linkType, pppFrame(ip6, { compressed: true }))).toEqual(udp6Expected);
      expect(decode(linkType, pppFrame(ip4, { framing: false, compressed: true }))).toEqual(tcp4Expected);
    }
    const lcp = Buffer.from([0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4]);
    expect(decode(LinkType.PPP, lcp)).toBe('non-ip');
    expect(decode(LinkType.PPP, Buffer.from([0xff]))).toBe('truncated');
    expect(decode(LinkType.PPP, Buffer.from([0xff, 0x03, 0x00]))).toBe('truncated');
  });

  it('Cisco HDLC, on its own link type and inside a PPP serial capture', () => {
    expect(decode(LinkType.C_HDLC, ciscoHdlcFrame(ip4))).toEqual(tcp4Expected);
    expect(decode(LinkType.C_HDLC, ciscoHdlcFrame(ip6))).toEqual(udp6Expected);
    expect(decode(LinkType.PPP_HDLC, ciscoHdlcFrame(ip6))).toEqual(udp6Expected);
    const multicast = ciscoHdlcFrame(ip4);
    multicast[0] = 0x8f;
    expect(decode(LinkType.C_HDLC, multicast)).toEqual(tcp4Expected);
    expect(decode(LinkType.C_HDLC, ciscoHdlcFrame(Buffer.alloc(20), 0x8035))).toBe('non-ip'); // SLARP
    expect(decode(LinkType.C_HDLC, Buffer.from([0x0f, 0, 0x08]))).toBe('truncated');
  });

  it('PPPoE session frames in Ethernet (0x8864), behind a VLAN tag, and as DLT_PPP_ETHER', () => {
    expect(decode(LinkType.ETHERNET, pppoeEthernetFrame(ip4))).toEqual(tcp4Expected);
    expect(decode(LinkType.ETHERNET, pppoeEthernetFrame(ip6))).toEqual(udp6Expected);
    const tagged = Buffer.concat([ethernetHeader(0x8100), Buffer.from([0, 7, 0x88, 0x64]), pppoeSession(ip4)]);
    expect(decode(LinkType.ETHERNET, tagged)).toEqual(tcp4Expected);
    expect(decode(LinkType.PPP_ETHER, pppoeSession(ip6))).toEqual(udp6Expected);
    expect(decode(LinkType.PPP_ETHER, pppoeSession(ip4, 0x09))).toBe('non-ip'); // discovery (PADI)
    const badVersion = pppoeSession(ip4);
    badVersion[0] = 0x21;
    expect(decode(LinkType.PPP_ETHER, badVersion)).toBe('malformed');
  });

  it('Cisco FabricPath: the classic Ethernet frame inside, with its VLAN tags', () => {
    expect(decode(LinkType.ETHERNET, fabricPathFrame(buildEthernetFrame(ip4)))).toEqual(tcp4Expected);
    expect(decode(LinkType.ETHERNET, fabricPathFrame(buildEthernetFrame(ip6, { vlan: [30] })))).toEqual(udp6Expected);
    expect(decode(LinkType.ETHERNET, fabricPathFrame(Buffer.concat([ethernetHeader(0x0806), Buffer.alloc(28)])))).toBe(
      'non-ip',
    );
  });

  it('a frame of nested FabricPath and VLAN headers is walked without recursion', () => {
    // Each 16-byte unit: EtherType 0x8903, FTag/TTL, the next inner MAC addresses.
    const units = Buffer.alloc(16 * 20_000);
    for (let at = 0; at < units.length; at += 16) units.writeUInt16BE(0x8903, at);
    const outer = Buffer.concat([Buffer.alloc(12, 0x02), units, u16be(0x0800), ip4]);
    expect(decode(LinkType.ETHERNET, outer)).toEqual(tcp4Expected);
  });

  it('PPI around Ethernet and around 802.11 data frames', () => {
    expect(decode(LinkType.PPI, ppiFrame(buildEthernetFrame(ip4), LinkType.ETHERNET))).toEqual(tcp4Expected);
    expect(decode(LinkType.PPI, ppiFrame(wifiDataFrame(ip6, { qos: true }), LinkType.IEEE802_11, 20))).toEqual(
      udp6Expected,
    );
    expect(decode(LinkType.PPI, ppiFrame(ip4, LinkType.RAW))).toEqual(tcp4Expected);
    expect(decode(LinkType.PPI, ppiFrame(ip4, 147))).toBe('unsupported-link');
    expect(decode(LinkType.PPI, ppiFrame(ppiFrame(ip4, LinkType.RAW), LinkType.PPI))).toBe('malformed');
    const badLength = ppiFrame(ip4, LinkType.RAW);
    badLength.writeUInt16LE(4, 2);
    expect(decode(LinkType.PPI, badLength)).toBe('malformed');
    expect(decode(LinkType.PPI, ppiFrame(ip4, LinkType.RAW, 40).subarray(0, 30))).toBe('truncated');
  });

  it('802.11: data and QoS data frames, with four addresses; protected and management frames are not IP', () => {
    expect(decode(LinkType.IEEE802_11, wifiDataFrame(ip4))).toEqual(tcp4Expected);
    expect(decode(LinkType.IEEE802_11, wifiDataFrame(ip6, { qos: true, wds: true }))).toEqual(udp6Expected);
    expect(decode(LinkType.IEEE802_11, wifiDataFrame(ip4, { protected: true }))).toBe('non-ip');
    const beacon = wifiDataFrame(ip4);
    beacon[0] = 0x80;
    expect(decode(LinkType.IEEE802_11, beacon)).toBe('non-ip');
    const nullData = wifiDataFrame(ip4);
    nullData[0] = 0x48;
    expect(decode(LinkType.IEEE802_11, nullData)).toBe('non-ip');
  });
});

describe('decodePacket: IPv4 total length 0 (segmentation offload)', () => {
  const big = buildIpPacket({ ...tcp4, payloadLength: 3000 });

  it('takes the length from the frame', () => {
    expect(decode(LinkType.ETHERNET, offloadedFrame(big))).toEqual({ ...tcp4Expected, bytes: 3040 });
    const raw = Buffer.from(big);
    raw.writeUInt16BE(0, 2);
    expect(decode(LinkType.RAW, raw)).toEqual({ ...tcp4Expected, bytes: 3040 });
  });

  it('counts what a snaplen cut off from the wire length', () => {
    const frame = offloadedFrame(big);
    const out = newDecodedPacket();
    expect(decodePacket(LinkType.ETHERNET, frame.subarray(0, 96), out, frame.length)).toBeNull();
    expect(out).toMatchObject({ bytes: 3040, srcPort: 40000, tcpFlags: SYN_ACK });
    // The cut belongs to that frame only.
    expect(decodePacket(LinkType.RAW, buildIpPacket(tcp4), out)).toBeNull();
    expect(out.bytes).toBe(140);
  });

  it('counts an NFLOG payload cut by its copy range from the TLV length', () => {
    const raw = Buffer.from(big);
    raw.writeUInt16BE(0, 2);
    const frame = nflogFrame(raw, 'accept');
    expect(decode(LinkType.NFLOG, frame.subarray(0, 200))).toMatchObject({ bytes: 3040, nflogPrefix: 'accept' });
  });

  it('a frame shorter than its IPv4 header length is still malformed', () => {
    const raw = buildIpPacket({ ...tcp4, payloadLength: 0 }).subarray(0, 24);
    raw.writeUInt16BE(0, 2);
    raw[0] = 0x47; // 28-byte header in a 24-byte frame
    expect(decode(LinkType.RAW, raw, newDecodedPacket())).toBe('malformed');
  });
});

describe('decodePacket network and transport', () => {
  it('TCP flags, UDP, SCTP, UDP-Lite ports', () => {
    for (const flags of [0x01, 0x02, 0x04, 0x10, 0x11, 0x18, 0x29, 0xff]) {
      expect(decode(LinkType.RAW, buildIpPacket({ ...tcp4, tcpFlags: flags }))).toMatchObject({ tcpFlags: flags });
    }
    expect(decode(LinkType.RAW, buildIpPacket({ ...tcp4, protocol: 'udp' }))).toMatchObject({
      protocol: 17,
      srcPort: 40000,
      dstPort: 443,
      tcpFlags: 0,
    });
    expect(decode(LinkType.RAW, buildIpPacket({ ...tcp4, protocol: 132 }))).toMatchObject({
      protocol: 132,
      srcPort: 40000,
      dstPort: 443,
    });
    expect(decode(LinkType.RAW, buildIpPacket({ ...udp6, protocol: 136 }))).toMatchObject({
      protocol: 136,
      srcPort: 5353,
      dstPort: 53,
    });
  });

  it('ICMP and ICMPv6 have no ports', () => {
    expect(
      decode(LinkType.RAW, buildIpPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 'icmp', payloadLength: 56 })),
    ).toEqual({
      ipVersion: 4,
      src: '10.0.0.1',
      dst: '10.0.0.2',
      protocol: 1,
      srcPort: 0,
      dstPort: 0,
      bytes: 84,
      tcpFlags: 0,
      nflogPrefix: undefined,
    });
    expect(
      decode(LinkType.RAW, buildIpPacket({ src: 'fe80::1', dst: 'ff02::1', protocol: 'icmp', srcPort: 9, dstPort: 9 })),
    ).toMatchObject({
      ipVersion: 6,
      protocol: 58,
      srcPort: 0,
      dstPort: 0,
      bytes: 48,
    });
  });

  it('GRE and IP-in-IP are counted by their outer header', () => {
    const inner = buildIpPacket({ src: '172.16.0.1', dst: '172.16.0.2', protocol: 'tcp', srcPort: 1, dstPort: 2 });
    const gre = buildIpPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 47, payloadLength: 4 + inner.length });
    Buffer.concat([Buffer.from([0, 0, 0x08, 0x00]), inner]).copy(gre, 20);
    expect(decode(LinkType.RAW, gre)).toMatchObject({
      src: '10.0.0.1',
      dst: '10.0.0.2',
      protocol: 47,
      srcPort: 0,
      dstPort: 0,
      bytes: 20 + 4 + inner.length,
    });
    const ipip = buildIpPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 4, payloadLength: inner.length });
    inner.copy(ipip, 20);
    expect(decode(LinkType.RAW, ipip)).toMatchObject({ src: '10.0.0.1', protocol: 4, srcPort: 0 });
    const sixInFour = buildIpPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 41, payloadLength: 48 });
    buildIpPacket(udp6).copy(sixInFour, 20);
    expect(decode(LinkType.RAW, sixInFour)).toMatchObject({ ipVersion: 4, protocol: 41, srcPort: 0 });
  });

  it('an IPv4 address zeroes the rest of its 16-byte slot, also after IPv6 filled it', () => {
    const out = newDecodedPacket();
    const v6 = buildIpPacket({
      src: 'ffff:eeee:dddd:cccc:bbbb:aaaa:9999:8888',
      dst: '2001:db8::ff',
      protocol: 'udp',
      srcPort: 1,
      dstPort: 2,
    });
    const v4 = buildIpPacket({ src: '10.1.2.3', dst: '192.0.2.4', protocol: 'udp', srcPort: 1, dstPort: 2 });
    expect(decodePacket(LinkType.RAW, v6, out)).toBeNull();
    expect(decodePacket(LinkType.RAW, v4, out)).toBeNull();
    expect([...out.src]).toEqual([10, 1, 2, 3, ...new Array(12).fill(0)]);
    expect([...out.dst]).toEqual([192, 0, 2, 4, ...new Array(12).fill(0)]);
    expect(decodePacket(LinkType.RAW, v6, out)).toBeNull();
    expect(formatIp(out.src, 6)).toBe('ffff:eeee:dddd:cccc:bbbb:aaaa:9999:8888');
  });

  it('IPv4 options are skipped by IHL', () => {
    const withRouterAlert = ipv4WithOptions(tcp4, Buffer.from([0x94, 0x04, 0, 0]));
    expect(decode(LinkType.RAW, withRouterAlert)).toEqual({ ...tcp4Expected, bytes: 144 });
    const fortyBytesOfOptions = ipv4WithOptions(tcp4, Buffer.alloc(40, 1));
    expect(decode(LinkType.RAW, fortyBytesOfOptions)).toEqual({ ...tcp4Expected, bytes: 180 });
  });

  it('IPv4 fragments: first has ports, later ones none', () => {
    expect(decode(LinkType.RAW, ipv4Fragment(tcp4, 0, true))).toEqual(tcp4Expected);
    expect(decode(LinkType.RAW, ipv4Fragment(tcp4, 185, true))).toEqual({
      ...tcp4Expected,
      srcPort: 0,
      dstPort: 0,
      tcpFlags: 0,
    });
    expect(decode(LinkType.RAW, ipv4Fragment(tcp4, 370, false))).toEqual({
      ...tcp4Expected,
      srcPort: 0,
      dstPort: 0,
      tcpFlags: 0,
    });
  });

  it('IPv6 hop-by-hop + fragment headers', () => {
    const first = ipv6WithExtensions(udp6, [
      [0, EIGHT_BYTE_OPTIONS],
      [44, fragmentHeaderBody(0, true)],
    ]);
    expect(decode(LinkType.RAW, first)).toEqual({ ...udp6Expected, bytes: 78 + 16 });
    const later = ipv6WithExtensions(udp6, [
      [0, EIGHT_BYTE_OPTIONS],
      [44, fragmentHeaderBody(181, false)],
    ]);
    expect(decode(LinkType.RAW, later)).toEqual({ ...udp6Expected, bytes: 78 + 16, srcPort: 0, dstPort: 0 });
  });

  it('IPv6 routing, destination options, mobility and AH headers', () => {
    const ah = Buffer.concat([Buffer.from([4]), Buffer.alloc(22)]); // with its next-header byte: (4 + 2) * 4 = 24 bytes
    const chain = ipv6WithExtensions({ ...tcp4, src: '2001:db8::a', dst: '2001:db8::b' }, [
      [0, EIGHT_BYTE_OPTIONS],
      [43, EIGHT_BYTE_OPTIONS],
      [51, ah],
      [60, EIGHT_BYTE_OPTIONS],
    ]);
    expect(decode(LinkType.RAW, chain)).toMatchObject({
      protocol: 6,
      srcPort: 40000,
      dstPort: 443,
      tcpFlags: SYN_ACK,
      bytes: 40 + 20 + 100 + 48,
    });
    const mobility = ipv6WithExtensions(udp6, [[135, EIGHT_BYTE_OPTIONS]]);
    expect(decode(LinkType.RAW, mobility)).toMatchObject({ protocol: 17, srcPort: 5353 });
  });

  it('IPv6 walk stops at ESP and no-next-header', () => {
    expect(decode(LinkType.RAW, buildIpPacket({ ...udp6, protocol: 50, payloadLength: 40 }))).toMatchObject({
      protocol: 50,
      srcPort: 0,
    });
    expect(decode(LinkType.RAW, buildIpPacket({ ...udp6, protocol: 59, payloadLength: 0 }))).toMatchObject({
      protocol: 59,
      bytes: 40,
    });
    const hopThenNone = ipv6WithExtensions({ ...udp6, protocol: 59 }, [[0, EIGHT_BYTE_OPTIONS]]);
    expect(decode(LinkType.RAW, hopThenNone)).toMatchObject({ protocol: 59 });
  });

  it('bytes is the wire length even when the capture is cut', () => {
    const frame = buildEthernetFrame(buildIpPacket({ ...tcp4, payloadLength: 1400 }));
    expect(decode(LinkType.ETHERNET, frame.subarray(0, 68))).toMatchObject({ bytes: 1440, srcPort: 40000 });
  });
});

describe('decodePacket truncation and malformed input', () => {
  const cases: Array<[string, number, Buffer, number]> = [
    // name, link type, full frame, minimum length that decodes
    ['ethernet tcp4', LinkType.ETHERNET, buildEthernetFrame(buildIpPacket(tcp4)), 14 + 20 + 14],
    ['qinq udp6', LinkType.ETHERNET, buildEthernetFrame(buildIpPacket(udp6), { vlan: [1, 2] }), 22 + 40 + 4],
    ['sll tcp4', LinkType.LINUX_SLL, sll(buildIpPacket(tcp4)), 16 + 20 + 14],
    ['sll2 udp6', LinkType.LINUX_SLL2, sll2(buildIpPacket(udp6)), 20 + 40 + 4],
    [
      'null icmp',
      LinkType.NULL,
      withFamily(u32(2, true), buildIpPacket({ src: '1.1.1.1', dst: '2.2.2.2', protocol: 'icmp' })),
      4 + 20,
    ],
    [
      'ipv6 fragment',
      LinkType.RAW,
      ipv6WithExtensions(udp6, [
        [0, EIGHT_BYTE_OPTIONS],
        [44, fragmentHeaderBody(0, true)],
      ]),
      40 + 16 + 4,
    ],
    ['ipv4 options', LinkType.RAW, ipv4WithOptions(tcp4, Buffer.alloc(8, 1)), 28 + 14],
  ];

  for (const [name, linkType, frame, minimum] of cases) {
    it(`${name}: every cut from 0 to ${frame.length} bytes is 'truncated' or decodes`, () => {
      const out = newDecodedPacket();
      for (let length = 0; length <= frame.length; length++) {
        const result = decodePacket(linkType, frame.subarray(0, length), out);
        expect(result, `length ${length}`).toBe(length < minimum ? 'truncated' : null);
      }
    });
  }

  it('every cut of an NFLOG frame returns a reason or decodes, never throws', () => {
    const frame = nflogFrame(buildIpPacket(tcp4), 'accept');
    const out = newDecodedPacket();
    for (let length = 0; length <= frame.length; length++) {
      const result = decodePacket(LinkType.NFLOG, frame.subarray(0, length), out);
      expect(result === null || SKIP_REASONS.includes(result)).toBe(true);
    }
  });

  it('bad IPv4 version, IHL and total length are malformed', () => {
    const packet = () => buildIpPacket(tcp4);
    const ihl4 = packet();
    ihl4[0] = 0x44;
    expect(decode(LinkType.IPV4, ihl4)).toBe('malformed');
    const shortTotal = packet();
    shortTotal.writeUInt16BE(19, 2);
    expect(decode(LinkType.IPV4, shortTotal)).toBe('malformed');
    const options = ipv4WithOptions(tcp4, Buffer.alloc(8));
    options.writeUInt16BE(24, 2); // shorter than its 28-byte header
    expect(decode(LinkType.IPV4, options)).toBe('malformed');
    const noRoomForTcp = packet();
    noRoomForTcp.writeUInt16BE(30, 2); // 10 bytes of TCP is not enough for the flags
    expect(decode(LinkType.IPV4, noRoomForTcp)).toBe('malformed');
    const ihlBeyondCapture = packet().subarray(0, 24);
    ihlBeyondCapture[0] = 0x46;
    expect(decode(LinkType.IPV4, ihlBeyondCapture)).toBe('truncated');
  });

  it('bad IPv6 version and extension headers beyond the payload are malformed', () => {
    const wrongVersion = buildIpPacket(udp6);
    wrongVersion[0] = 0x40;
    expect(decode(LinkType.IPV6, wrongVersion)).toBe('malformed');
    const longHop = ipv6WithExtensions(udp6, [[0, EIGHT_BYTE_OPTIONS]]);
    longHop[41] = 200; // 1608-byte hop-by-hop header
    expect(decode(LinkType.IPV6, longHop)).toBe('malformed');
    const tinyPayload = buildIpPacket(udp6);
    tinyPayload.writeUInt16BE(2, 4);
    expect(decode(LinkType.IPV6, tinyPayload)).toBe('malformed');
  });
});

describe('formatIp / parseIp', () => {
  const canonical = [
    '::',
    '::1',
    '2001:db8::1',
    '::ffff:192.0.2.1',
    'fe80::1:2',
    '2001:db8:0:1:1:1:1:1',
    '2001:0:0:1::1',
    '2001:db8::1:0:0:1',
    '1::',
    '1:2:3:4:5:6:7:8',
    'ff02::1:ff00:1',
    '64:ff9b::c000:201',
  ];

  it.each(canonical)('round-trips %s', (text) => {
    const parsed = parseIp(text);
    expect(parsed?.version).toBe(6);
    expect(parsed?.bytes.length).toBe(16);
    expect(formatIp(parsed!.bytes, 6)).toBe(text);
  });

  it('normalises to RFC 5952', () => {
    const canon = (text: string) => formatIp(parseIp(text)!.bytes, 6);
    expect(canon('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(canon('2001:0db8:0000:0000:0001:0000:0000:0001')).toBe('2001:db8::1:0:0:1');
    expect(canon('0:0:0:0:0:0:0:0')).toBe('::');
    expect(canon('::ffff:c000:0201')).toBe('::ffff:192.0.2.1');
    expect(canon('::192.0.2.1')).toBe('::c000:201');
    expect(canon('2001:db8:0:1:0:0:0:0')).toBe('2001:db8:0:1::');
    // A single zero group is never compressed.
    expect(canon('::2:3:4:5:6:7:8')).toBe('0:2:3:4:5:6:7:8');
    expect(canon('1:2:3:4:5:6:7::')).toBe('1:2:3:4:5:6:7:0');
  });

  it('IPv4', () => {
    expect(parseIp('192.0.2.1')).toEqual({ version: 4, bytes: new Uint8Array([192, 0, 2, 1]) });
    expect(formatIp(new Uint8Array([10, 0, 0, 255, 9, 9]), 4)).toBe('10.0.0.255');
    expect(formatIp(parseIp('0.0.0.0')!.bytes, 4)).toBe('0.0.0.0');
  });

  it.each([
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.2.3.4',
    '1.2.3.a',
    ':::',
    '1::2::3',
    '12345::',
    'g::',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7::8',
    'fe80::1%eth0',
    '1.2.3.4::',
    '::1.2.3',
    ':1',
    '1:',
  ])('rejects %j', (text) => {
    expect(parseIp(text)).toBeUndefined();
  });
});

describe('tunnels: pkt-srcaddr and pkt-dstaddr are the innermost addresses of GRE and IP-in-IP', () => {
  const inner4 = buildIpPacket(tcp4);
  const inner6 = buildIpPacket(udp6);
  const outer4 = { src: '198.51.100.1', dst: '198.51.100.2' };
  const outer6 = { src: '2001:db8:ff::1', dst: '2001:db8:ff::2' };
  /** The outer packet as decoded and the innermost addresses (or 'none'). */
  function tunnel(ip: Buffer) {
    const out = newDecodedPacket();
    const reason = decodePacket(LinkType.ETHERNET, buildEthernetFrame(ip), out);
    if (reason) return reason;
    const v = out.pktIpVersion;
    return {
      outer: `${formatIp(out.src, out.ipVersion)} > ${formatIp(out.dst, out.ipVersion)} proto ${out.protocol} ports ${out.srcPort}/${out.dstPort} ${out.bytes} B`,
      pkt: v === 0 ? 'none' : `IPv${v} ${formatIp(out.pktSrc, v)} > ${formatIp(out.pktDst, v)}`,
    };
  }

  it.each([
    [
      'IPv4 in IPv4',
      buildTunnelPacket(outer4, inner4, 'ip'),
      '198.51.100.1 > 198.51.100.2 proto 4 ports 0/0 160 B',
      'IPv4 10.0.0.1 > 192.168.1.20',
    ],
    [
      'IPv6 in IPv4',
      buildTunnelPacket(outer4, inner6, 'ip'),
      '198.51.100.1 > 198.51.100.2 proto 41 ports 0/0 98 B',
      'IPv6 2001:db8::1 > 2001:db8::53',
    ],
    [
      'IPv4 in IPv6',
      buildTunnelPacket(outer6, inner4, 'ip'),
      '2001:db8:ff::1 > 2001:db8:ff::2 proto 4 ports 0/0 180 B',
      'IPv4 10.0.0.1 > 192.168.1.20',
    ],
    [
      'IPv6 in IPv6',
      buildTunnelPacket(outer6, inner6, 'ip'),
      '2001:db8:ff::1 > 2001:db8:ff::2 proto 41 ports 0/0 118 B',
      'IPv6 2001:db8::1 > 2001:db8::53',
    ],
    [
      'GRE over IPv4 carrying IPv4',
      buildTunnelPacket(outer4, inner4, 'gre'),
      '198.51.100.1 > 198.51.100.2 proto 47 ports 0/0 164 B',
      'IPv4 10.0.0.1 > 192.168.1.20',
    ],
    [
      'GRE with a key carrying IPv6',
      buildTunnelPacket(outer4, inner6, 'gre', 7),
      '198.51.100.1 > 198.51.100.2 proto 47 ports 0/0 106 B',
      'IPv6 2001:db8::1 > 2001:db8::53',
    ],
    [
      'GRE over IPv6 carrying IPv4',
      buildTunnelPacket(outer6, inner4, 'gre'),
      '2001:db8:ff::1 > 2001:db8:ff::2 proto 47 ports 0/0 184 B',
      'IPv4 10.0.0.1 > 192.168.1.20',
    ],
    [
      'IPv4 in GRE in IPv6 (the innermost)',
      buildTunnelPacket(outer6, buildTunnelPacket({ src: '172.16.0.1', dst: '172.16.0.2' }, inner4, 'ip'), 'gre'),
      '2001:db8:ff::1 > 2001:db8:ff::2 proto 47 ports 0/0 204 B',
      'IPv4 10.0.0.1 > 192.168.1.20',
    ],
  ])('%s', (_, ip, outer, pkt) => {
    expect(tunnel(ip)).toEqual({ outer, pkt });
  });

  it('has none for a packet that is not tunnelled, after a tunnelled one in the same DecodedPacket', () => {
    const out = newDecodedPacket();
    expect(decodePacket(LinkType.RAW, buildTunnelPacket(outer4, inner4, 'gre'), out)).toBeNull();
    expect(out.pktIpVersion).toBe(4);
    expect(decodePacket(LinkType.RAW, inner4, out)).toBeNull();
    expect(out.pktIpVersion).toBe(0);
  });

  it('keeps the outer packet when the inner one is cut short or is not IP (and stops at the deepest whole header)', () => {
    const gre = buildTunnelPacket(outer4, inner4, 'gre');
    const cut = buildEthernetFrame(gre).subarray(0, 14 + 20 + 4 + 19); // one byte short of the inner IPv4 header
    const out = newDecodedPacket();
    expect(decodePacket(LinkType.ETHERNET, cut, out)).toBeNull();
    expect([formatIp(out.src, 4), out.protocol, out.bytes, out.pktIpVersion]).toEqual(['198.51.100.1', 47, 164, 0]);
    const pptp = Buffer.from(gre);
    pptp[20 + 1] = 1; // GRE version 1 (PPTP) carries PPP, not IP
    expect(tunnel(pptp)).toMatchObject({ pkt: 'none' });
    const nested = buildTunnelPacket(
      outer4,
      buildTunnelPacket({ src: '172.16.0.1', dst: '172.16.0.2' }, inner4, 'ip'),
      'gre',
    );
    const shortNested = buildEthernetFrame(nested).subarray(0, 14 + 20 + 4 + 20 + 10);
    expect(decodePacket(LinkType.ETHERNET, shortNested, out)).toBeNull();
    expect([out.pktIpVersion, formatIp(out.pktSrc, 4), formatIp(out.pktDst, 4)]).toEqual([
      4,
      '172.16.0.1',
      '172.16.0.2',
    ]);
  });
});
