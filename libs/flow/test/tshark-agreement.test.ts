/**
 * `flowlogs records` (recordsFromCapture) against tshark on a capture built here: the same
 * comparison as scripts/compare-records-tshark.ts. Needs tshark (CI installs it); skipped where
 * it is missing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildEthernetFrame,
  buildIpPacket,
  writePcap,
  writePcapng,
  type CaptureInput,
  type PacketSpec,
} from '@flowlogs/packet';
import { hasTshark } from '../../packet/scripts/tshark.js';
import { compareCapture, flowKey, type Flow } from '../scripts/tshark-flows.js';

const tsharkFound = hasTshark();
if (!tsharkFound)
  console.warn('tshark-agreement: tshark is not installed; skipping (apt-get install -y tshark to run it)');

const INTERVAL = 60;
/** Window-aligned start plus 17 s: the ~190 s of traffic span four 60 s windows. */
const T0 = 1_700_000_040 + 17;
const SPAN = 190;
const SNAPLEN = 64;

/** Deterministic PRNG (mulberry32), so the capture is the same on every run. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function ipv4Checksum(ip: Buffer): void {
  const headerLength = (ip[0] & 0x0f) * 4;
  ip.writeUInt16BE(0, 10);
  let sum = 0;
  for (let i = 0; i < headerLength; i += 2) sum += ip.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  ip.writeUInt16BE(~sum & 0xffff, 10);
}

/** An IPv4 fragment: the built packet with MF and the offset (in 8-byte units) set. */
function ipv4Fragment(ip: Buffer, offsetUnits: number, more: boolean): Buffer {
  ip.writeUInt16BE(0x1234, 4); // identification
  ip.writeUInt16BE((more ? 0x2000 : 0) | offsetUnits, 6);
  ipv4Checksum(ip);
  return ip;
}

/** An IPv6 fragment: a fragment header inserted after the fixed header of a built packet. */
function ipv6Fragment(ip: Buffer, offsetUnits: number, more: boolean): Buffer {
  const fragment = Buffer.alloc(8);
  fragment[0] = ip[6];
  fragment.writeUInt16BE((offsetUnits << 3) | (more ? 1 : 0), 2);
  fragment.writeUInt32BE(0xabcd, 4);
  const out = Buffer.concat([ip.subarray(0, 40), fragment, ip.subarray(40)]);
  out[6] = 44;
  out.writeUInt16BE(ip.readUInt16BE(4) + 8, 4);
  return out;
}

function arpFrame(): Buffer {
  const frame = Buffer.alloc(42);
  frame.fill(0xff, 0, 6);
  Buffer.from([0x02, 0, 0, 0, 0, 0x01]).copy(frame, 6);
  frame.writeUInt16BE(0x0806, 12);
  frame.writeUInt16BE(1, 14); // Ethernet
  frame.writeUInt16BE(0x0800, 16); // IPv4
  frame[18] = 6;
  frame[19] = 4;
  frame.writeUInt16BE(1, 20); // request
  Buffer.from([10, 0, 0, 1]).copy(frame, 28);
  Buffer.from([10, 0, 0, 2]).copy(frame, 38);
  return frame;
}

interface Kind {
  name: string;
  spec: Omit<PacketSpec, 'payloadLength'>;
  vlan?: number[];
  /** Turns the built packet into a fragment: offset in 8-byte units (0: first fragment, ports kept). */
  fragment?: number;
}

const TCP_FLAGS = [0x02, 0x12, 0x10, 0x18, 0x11, 0x04];

const KINDS: Kind[] = [
  { name: 'tcp', spec: { src: '10.0.0.1', dst: '10.0.1.1', protocol: 'tcp', srcPort: 40000, dstPort: 443 } },
  { name: 'tcp reply', spec: { src: '10.0.1.1', dst: '10.0.0.1', protocol: 'tcp', srcPort: 443, dstPort: 40000 } },
  {
    name: 'tcp vlan',
    spec: { src: '10.0.0.2', dst: '10.0.1.2', protocol: 'tcp', srcPort: 40001, dstPort: 22 },
    vlan: [100],
  },
  {
    name: 'tcp qinq',
    spec: { src: '10.0.0.3', dst: '10.0.1.3', protocol: 'tcp', srcPort: 40002, dstPort: 80 },
    vlan: [10, 20],
  },
  { name: 'udp', spec: { src: '10.0.0.4', dst: '10.0.1.53', protocol: 'udp', srcPort: 5353, dstPort: 53 } },
  {
    name: 'udp vlan',
    spec: { src: '10.0.1.53', dst: '10.0.0.4', protocol: 'udp', srcPort: 53, dstPort: 5353 },
    vlan: [200],
  },
  { name: 'icmp', spec: { src: '10.0.0.5', dst: '192.0.2.1', protocol: 'icmp' } },
  { name: 'icmpv6', spec: { src: '2001:db8::5', dst: '2001:db8:0:1::1', protocol: 'icmp' } },
  { name: 'udp6', spec: { src: '2001:db8::6', dst: '2001:db8:0:1::53', protocol: 'udp', srcPort: 6000, dstPort: 53 } },
  {
    name: 'udp6 vlan',
    spec: { src: 'fe80::1', dst: 'ff02::fb', protocol: 'udp', srcPort: 5353, dstPort: 5353 },
    vlan: [300],
  },
  {
    name: 'tcp6',
    spec: { src: '2001:db8::7', dst: '2001:db8:0:1::7', protocol: 'tcp', srcPort: 50000, dstPort: 8443 },
  },
  { name: 'sctp', spec: { src: '10.0.0.8', dst: '10.0.1.8', protocol: 132, srcPort: 3868, dstPort: 3868 } },
  { name: 'gre', spec: { src: '10.0.0.9', dst: '10.0.1.9', protocol: 47 } },
  {
    name: 'frag first',
    spec: { src: '10.0.0.10', dst: '10.0.1.10', protocol: 'udp', srcPort: 7000, dstPort: 7001 },
    fragment: 0,
  },
  {
    name: 'frag next',
    spec: { src: '10.0.0.10', dst: '10.0.1.10', protocol: 'udp', srcPort: 7000, dstPort: 7001 },
    fragment: 185,
  },
  {
    name: 'frag6 first',
    spec: { src: '2001:db8::10', dst: '2001:db8:0:1::10', protocol: 'udp', srcPort: 7000, dstPort: 7001 },
    fragment: 0,
  },
  {
    name: 'frag6 next',
    spec: { src: '2001:db8::10', dst: '2001:db8:0:1::10', protocol: 'udp', srcPort: 7000, dstPort: 7001 },
    fragment: 181,
  },
];

interface Built {
  input: CaptureInput;
  /** What a flow record should count this packet as; undefined for non-IP frames. */
  expected?: { key: string; bytes: number };
  /** Link, IP and transport header bytes: what must survive a snaplen for the packet to be decodable. */
  headerBytes: number;
}

function buildTraffic(count: number): Built[] {
  const random = prng(20240917);
  const out: Built[] = [];
  for (let i = 0; i < count; i++) {
    const tsSec = T0 + Math.floor((i * SPAN) / count);
    // Below 999_999_000 ns: see the known-bug test at the end.
    const tsNanos = Math.floor(random() * 999_999_000);
    if (i % 97 === 50) {
      out.push({ input: { tsSec, tsNanos, frame: arpFrame() }, headerBytes: 42 });
      continue;
    }
    const kind = KINDS[Math.floor(random() * KINDS.length)];
    const spec: PacketSpec = { ...kind.spec, payloadLength: Math.floor(random() * 1200) };
    if (spec.protocol === 'tcp') spec.tcpFlags = TCP_FLAGS[Math.floor(random() * TCP_FLAGS.length)];
    const v6 = spec.src.includes(':');
    let ip = buildIpPacket(spec);
    const first = kind.fragment === undefined || kind.fragment === 0;
    if (kind.fragment !== undefined)
      ip = v6
        ? ipv6Fragment(ip, kind.fragment, kind.fragment === 0)
        : ipv4Fragment(ip, kind.fragment, kind.fragment === 0);
    const frame = buildEthernetFrame(ip, { vlan: kind.vlan });
    const protocol =
      spec.protocol === 'tcp'
        ? 6
        : spec.protocol === 'udp'
          ? 17
          : spec.protocol === 'icmp'
            ? v6
              ? 58
              : 1
            : spec.protocol;
    const ports = first && [6, 17, 132].includes(protocol);
    const transportBytes = !first
      ? 0
      : protocol === 6
        ? 20
        : protocol === 17 || protocol === 58 || protocol === 1
          ? 8
          : protocol === 132
            ? 12
            : 0;
    const headerBytes =
      14 + 4 * (kind.vlan?.length ?? 0) + (v6 ? 40 + (kind.fragment !== undefined ? 8 : 0) : 20) + transportBytes;
    const flow: Flow = {
      src: spec.src,
      dst: spec.dst,
      srcPort: ports ? (spec.srcPort ?? 0) : 0,
      dstPort: ports ? (spec.dstPort ?? 0) : 0,
      protocol,
      windowStart: Math.floor(tsSec / INTERVAL) * INTERVAL,
      packets: 1,
      bytes: 0,
      start: tsSec,
      end: tsSec,
    };
    // Layer-3 length on the wire: the whole IP packet (IPv4 total length = IPv6 40 + payload length).
    out.push({ input: { tsSec, tsNanos, frame }, expected: { key: flowKey(flow), bytes: ip.length }, headerBytes });
  }
  return out;
}

function expectations(built: Built[]) {
  const keys = new Set(built.flatMap((b) => (b.expected ? [b.expected.key] : [])));
  const ip = built.filter((b) => b.expected);
  return {
    flows: keys.size,
    packets: ip.length,
    bytes: ip.reduce((sum, b) => sum + b.expected!.bytes, 0),
    nonIp: built.length - ip.length,
    windows: new Set(built.map((b) => Math.floor(b.input.tsSec / INTERVAL))).size,
  };
}

describe.skipIf(!tsharkFound)('flowlogs records agrees with tshark (needs tshark)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowlogs-tshark-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const traffic = buildTraffic(400);

  async function check(name: string, file: Buffer, built: Built[]) {
    const path = join(dir, name);
    writeFileSync(path, file);
    const want = expectations(built);
    const { comparison, tshark, records, counters } = await compareCapture(path, INTERVAL);
    expect({
      onlyInFlowlogs: comparison.onlyInFlowlogs,
      onlyInTshark: comparison.onlyInTshark,
      mismatches: comparison.mismatches,
    }).toEqual({ onlyInFlowlogs: [], onlyInTshark: [], mismatches: [] });
    expect(comparison.matched).toBe(want.flows);
    expect(tshark.flows).toHaveLength(want.flows);
    expect(records.filter((r) => r.logStatus === 'OK')).toHaveLength(want.flows);
    expect(tshark.frames).toBe(built.length);
    expect(tshark.nonIp).toBe(want.nonIp);
    expect(counters).toEqual({ received: built.length, skipped: want.nonIp ? { 'non-ip': want.nonIp } : {} });
    expect(tshark.flows.reduce((sum, f) => sum + f.packets, 0)).toBe(want.packets);
    expect(tshark.flows.reduce((sum, f) => sum + f.bytes, 0)).toBe(want.bytes);
    expect(new Set(tshark.flows.map((f) => f.windowStart)).size).toBe(want.windows);
  }

  it('builds a capture worth checking: every kind of packet, several windows, non-IP frames', () => {
    const want = expectations(traffic);
    expect(want.windows).toBe(4);
    expect(want.nonIp).toBeGreaterThanOrEqual(2);
    expect(want.flows).toBeGreaterThan(KINDS.length); // every kind, in more than one window
    expect(want.packets).toBeGreaterThan(300);
  });

  it('pcap, microsecond timestamps', async () => {
    await check('traffic.pcap', writePcap(traffic.map((b) => b.input)), traffic);
  });

  it('pcapng, nanosecond timestamps', async () => {
    await check('traffic.pcapng', writePcapng(traffic.map((b) => b.input)), traffic);
  });

  it(`pcap cut at snaplen ${SNAPLEN}: bytes from the IP length fields`, async () => {
    // Only packets whose headers survive the cut: a packet cut inside its transport header is skipped as truncated.
    const fits = traffic.filter((b) => b.headerBytes <= SNAPLEN);
    expect(fits.filter((b) => b.input.frame.length > SNAPLEN).length).toBeGreaterThan(200);
    await check(
      'traffic-snap64.pcap',
      writePcap(
        fits.map((b) => b.input),
        { snaplen: SNAPLEN },
      ),
      fits,
    );
  });

  // Near 1.7e9 s a double steps by 2.4e-7 s: a packet in the last ~120 ns of a second must not round
  // up into the next second, nor at a window's last second into the next window.
  it('a packet in the last nanoseconds of a window stays in that window', async () => {
    const lastSecond = T0 - 17 + INTERVAL - 1;
    const frame = buildEthernetFrame(
      buildIpPacket({ src: '10.9.9.1', dst: '10.9.9.2', protocol: 'udp', srcPort: 1, dstPort: 2 }),
    );
    const edge: Built[] = [
      { input: { tsSec: lastSecond, tsNanos: 999_999_950, frame }, expected: { key: '', bytes: 28 }, headerBytes: 42 },
    ];
    edge[0].expected!.key = flowKey({
      src: '10.9.9.1',
      dst: '10.9.9.2',
      srcPort: 1,
      dstPort: 2,
      protocol: 17,
      windowStart: T0 - 17,
    });
    await check('edge.pcapng', writePcapng(edge.map((b) => b.input)), edge);
  });
});
