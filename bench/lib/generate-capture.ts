/**
 * Synthetic large captures for the benchmarks: Ethernet + IPv4/IPv6 TCP, UDP
 * and ICMP conversations with realistic frame sizes, timestamps spread evenly
 * over a time span, written with PcapWriter into a file cached under
 * `.cache/bench/` by its parameters (a rerun with the same parameters reuses it).
 *
 * Speed: a few thousand template frames (every family × protocol × payload
 * length in 4-byte steps) are built once with buildIpPacket/buildEthernetFrame;
 * per packet only the addresses, ports, TCP flags or ICMP type, and the IPv4
 * header checksum are rewritten in the chosen template before PcapWriter copies it.
 */
import { closeSync, existsSync, mkdirSync, openSync, renameSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildEthernetFrame, buildIpPacket, PcapWriter, type CaptureInput } from '@flowlogs/packet';

export interface CaptureParams {
  packets: number;
  /** Conversations (each has packets in both directions, so up to twice as many one-way flow keys). */
  flows: number;
  /** Timestamps run evenly from `startSec` over this many seconds. */
  durationSec: number;
  /** Share of conversations over IPv6. */
  ipv6Fraction: number;
  seed: number;
  startSec: number;
}

export const DEFAULT_CAPTURE_PARAMS: CaptureParams = {
  packets: 5_000_000,
  flows: 50_000,
  durationSec: 600,
  ipv6Fraction: 0.1,
  seed: 1,
  startSec: 1_700_000_400, // a multiple of 600: windows of every interval start at the first packet
};

export interface CaptureStats {
  path: string;
  params: CaptureParams;
  packets: number;
  /** Size of the pcap file. */
  fileBytes: number;
  /** Sum of frame lengths (what a capture tool moves). */
  frameBytes: number;
  /** Sum of IP lengths (what flow records count). */
  ipBytes: number;
  ipv6Packets: number;
  byProtocol: { tcp: number; udp: number; icmp: number };
  /** One-way (src, dst, sport, dport, proto) keys that carried packets. */
  flowKeys: number;
  /** Whether the file came from the cache. */
  cached: boolean;
  /** Seconds spent generating (0 when cached). */
  generateSec: number;
}

/** Bump when the generated traffic changes, so cached files are regenerated. */
const GENERATOR_VERSION = 2;

const ETH = 14;
const TCP = 6;
const UDP = 17;
const ICMP = 1;
const MAX_FRAME = 1514;
const PAYLOAD_STEP = 4;

/** Deterministic PRNG (mulberry32): same parameters, same file. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Proto = typeof TCP | typeof UDP | typeof ICMP;
const PROTOS: Proto[] = [TCP, UDP, ICMP];

function l4HeaderLength(proto: Proto): number {
  return proto === TCP ? 20 : 8;
}

/** Template frames, indexed by family (0: v4, 1: v6), protocol and payload length / PAYLOAD_STEP. */
class Templates {
  private readonly frames = new Map<number, Buffer[]>();

  constructor() {
    for (const v6 of [false, true]) {
      for (const proto of PROTOS) {
        const ipHeader = v6 ? 40 : 20;
        const maxPayload = MAX_FRAME - ETH - ipHeader - l4HeaderLength(proto);
        const list: Buffer[] = [];
        for (let payload = 0; payload <= maxPayload; payload += PAYLOAD_STEP) {
          const ip = buildIpPacket({
            src: v6 ? '2001:db8::1' : '10.0.0.1',
            dst: v6 ? '2001:db8::2' : '10.0.0.2',
            protocol: proto === ICMP ? 'icmp' : proto === TCP ? 'tcp' : 'udp',
            srcPort: 1,
            dstPort: 2,
            tcpFlags: 0x10,
            payloadLength: payload,
          });
          list.push(buildEthernetFrame(ip));
        }
        this.frames.set(Templates.key(v6, proto), list);
      }
    }
  }

  static key(v6: boolean, proto: Proto): number {
    return (v6 ? 256 : 0) + proto;
  }

  get count(): number {
    let n = 0;
    for (const list of this.frames.values()) n += list.length;
    return n;
  }

  /** The template whose frame is closest to (not above) `frameLength`. */
  pick(v6: boolean, proto: Proto, frameLength: number): Buffer {
    const list = this.frames.get(Templates.key(v6, proto))!;
    const payload = frameLength - ETH - (v6 ? 40 : 20) - l4HeaderLength(proto);
    const index = Math.max(0, Math.min(list.length - 1, Math.floor(payload / PAYLOAD_STEP)));
    return list[index];
  }
}

/** What kind of conversation a flow is: it decides the protocol, server port and frame sizes. */
// biome-ignore lint/suspicious/noConstEnum: inlined into the generator's per-packet loop; never exported
const enum Kind {
  Https, // TCP 443: small requests, full-size responses
  Http, // TCP 80
  Ssh, // TCP 22: small frames both ways
  Db, // TCP 5432: medium both ways
  Dns, // UDP 53
  Quic, // UDP 443: near-MTU datagrams
  Ntp, // UDP 123
  Ping, // ICMP echo
}

/** Cumulative mix of conversation kinds. */
const KIND_MIX: Array<[Kind, number]> = [
  [Kind.Https, 0.5],
  [Kind.Http, 0.1],
  [Kind.Ssh, 0.04],
  [Kind.Db, 0.08],
  [Kind.Dns, 0.12],
  [Kind.Quic, 0.1],
  [Kind.Ntp, 0.02],
  [Kind.Ping, 0.04],
];

const KIND_PROTO: Record<Kind, Proto> = {
  [Kind.Https]: TCP,
  [Kind.Http]: TCP,
  [Kind.Ssh]: TCP,
  [Kind.Db]: TCP,
  [Kind.Dns]: UDP,
  [Kind.Quic]: UDP,
  [Kind.Ntp]: UDP,
  [Kind.Ping]: ICMP,
};
const KIND_PORT: Record<Kind, number> = {
  [Kind.Https]: 443,
  [Kind.Http]: 80,
  [Kind.Ssh]: 22,
  [Kind.Db]: 5432,
  [Kind.Dns]: 53,
  [Kind.Quic]: 443,
  [Kind.Ntp]: 123,
  [Kind.Ping]: 0,
};

/** A frame length (before the IP header size correction) for one packet of a conversation. */
function frameLength(kind: Kind, fromClient: boolean, r: () => number): number {
  const u = r();
  switch (kind) {
    case Kind.Https:
    case Kind.Http:
      if (fromClient) return u < 0.7 ? 54 : u < 0.95 ? 100 + r() * 600 : MAX_FRAME; // ACKs, requests, uploads
      return u < 0.65 ? MAX_FRAME : u < 0.85 ? 54 : 100 + r() * 1400; // full segments, ACKs, tails
    case Kind.Ssh:
      return u < 0.5 ? 54 : 90 + r() * 200;
    case Kind.Db:
      return u < 0.4 ? 54 : 120 + r() * (fromClient ? 400 : 1300);
    case Kind.Dns:
      return fromClient ? 70 + r() * 60 : 90 + r() * 400;
    case Kind.Quic:
      return u < 0.3 ? 70 + r() * 40 : 1250 + r() * 100;
    case Kind.Ntp:
      return 90;
    case Kind.Ping:
      return 98;
  }
}

interface Flows {
  kind: Uint8Array;
  v6: Uint8Array;
  /** 16 bytes per flow; IPv4 uses the first 4. */
  client: Uint8Array;
  server: Uint8Array;
  clientPort: Uint16Array;
  /** Packets sent so far per direction (for SYN / SYN-ACK on the first). */
  sentForward: Uint32Array;
  sentReverse: Uint32Array;
}

function makeFlows(params: CaptureParams, r: () => number): Flows {
  const n = params.flows;
  const flows: Flows = {
    kind: new Uint8Array(n),
    v6: new Uint8Array(n),
    client: new Uint8Array(n * 16),
    server: new Uint8Array(n * 16),
    clientPort: new Uint16Array(n),
    sentForward: new Uint32Array(n),
    sentReverse: new Uint32Array(n),
  };
  for (let f = 0; f < n; f++) {
    const u = r();
    let acc = 0;
    let kind = Kind.Https;
    for (const [k, share] of KIND_MIX) {
      acc += share;
      if (u < acc) {
        kind = k;
        break;
      }
    }
    flows.kind[f] = kind;
    const v6 = r() < params.ipv6Fraction;
    flows.v6[f] = v6 ? 1 : 0;
    const c = f * 16;
    if (v6) {
      // Clients in fd00:10::/64-ish, servers in 2001:db8::/32.
      flows.client.set([0xfd, 0x00, 0x00, 0x10], c);
      flows.server.set([0x20, 0x01, 0x0d, 0xb8], c);
      for (let i = 8; i < 16; i++) {
        flows.client[c + i] = (r() * 256) | 0;
        flows.server[c + i] = (r() * 256) | 0;
      }
    } else {
      // Clients in 10.0.0.0/16 (the VPC), servers anywhere in 20.0.0.0/6.
      flows.client.set([10, 0, (r() * 256) | 0, 1 + ((r() * 254) | 0)], c);
      flows.server.set([20 + ((r() * 4) | 0), (r() * 256) | 0, (r() * 256) | 0, 1 + ((r() * 254) | 0)], c);
    }
    flows.clientPort[f] = kind === Kind.Ping ? (r() * 65536) | 0 : 32768 + ((r() * 28232) | 0);
  }
  return flows;
}

function ipv4Checksum(frame: Buffer, at: number): void {
  frame[at + 10] = 0;
  frame[at + 11] = 0;
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (frame[at + i] << 8) | frame[at + i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  sum = ~sum & 0xffff;
  frame[at + 10] = sum >> 8;
  frame[at + 11] = sum & 0xff;
}

/** The cache path for a set of parameters. */
export function capturePath(params: CaptureParams, cacheDir = defaultCacheDir()): string {
  const p = params;
  return join(
    cacheDir,
    `capture-v${GENERATOR_VERSION}-p${p.packets}-f${p.flows}-d${p.durationSec}-v6${p.ipv6Fraction}-s${p.seed}-t${p.startSec}.pcap`,
  );
}

export function defaultCacheDir(): string {
  return resolve(process.cwd(), '.cache', 'bench');
}

/**
 * The capture for these parameters: generated into the cache unless it is
 * there already (a `.json` beside the file keeps its statistics; a file
 * without it, e.g. from an interrupted run, is regenerated).
 */
export function ensureCapture(overrides: Partial<CaptureParams> = {}, cacheDir = defaultCacheDir()): CaptureStats {
  const params: CaptureParams = { ...DEFAULT_CAPTURE_PARAMS, ...overrides };
  if (overrides.packets !== undefined && overrides.flows === undefined) {
    params.flows = Math.max(1, Math.round(params.packets / 100)); // ~100 packets per conversation
  }
  const path = capturePath(params, cacheDir);
  const statsPath = `${path}.json`;
  if (existsSync(path) && existsSync(statsPath)) {
    const stats = JSON.parse(readFileSync(statsPath, 'utf8')) as CaptureStats;
    if (statSync(path).size === stats.fileBytes) return { ...stats, path, cached: true, generateSec: 0 };
  }
  mkdirSync(cacheDir, { recursive: true });
  const stats = generateCapture(params, path);
  writeFileSync(statsPath, JSON.stringify(stats, null, 2));
  return stats;
}

/** Writes the capture to `path` (through a temporary file, renamed at the end). */
export function generateCapture(params: CaptureParams, path: string): CaptureStats {
  const started = performance.now();
  const r = rng(params.seed);
  const templates = new Templates();
  const flows = makeFlows(params, r);
  const seenKey = new Uint8Array(params.flows * 2);
  const stats: CaptureStats = {
    path,
    params,
    packets: params.packets,
    fileBytes: 24,
    frameBytes: 0,
    ipBytes: 0,
    ipv6Packets: 0,
    byProtocol: { tcp: 0, udp: 0, icmp: 0 },
    flowKeys: 0,
    cached: false,
    generateSec: 0,
  };
  const temporary = `${path}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'w');
  const writer = new PcapWriter(fd);
  const record: CaptureInput = { tsSec: 0, tsNanos: 0, frame: Buffer.alloc(0) };
  const stepNs = (params.durationSec * 1e9) / params.packets;
  try {
    for (let i = 0; i < params.packets; i++) {
      // Heavy-tailed choice: a few elephant conversations, a long tail of small ones.
      const u = r();
      const f = Math.min(params.flows - 1, Math.floor(params.flows * u * u * u));
      const kind = flows.kind[f] as Kind;
      const v6 = flows.v6[f] === 1;
      const proto = KIND_PROTO[kind];
      const fromClient = r() < (kind === Kind.Https || kind === Kind.Http ? 0.4 : 0.5);
      const frame = templates.pick(v6, proto, frameLength(kind, fromClient, r) + (v6 ? 20 : 0));

      const ip = ETH;
      const l4 = ETH + (v6 ? 40 : 20);
      const src = fromClient ? flows.client : flows.server;
      const dst = fromClient ? flows.server : flows.client;
      if (v6) {
        frame.set(src.subarray(f * 16, f * 16 + 16), ip + 8);
        frame.set(dst.subarray(f * 16, f * 16 + 16), ip + 24);
      } else {
        frame.set(src.subarray(f * 16, f * 16 + 4), ip + 12);
        frame.set(dst.subarray(f * 16, f * 16 + 4), ip + 16);
        ipv4Checksum(frame, ip);
      }
      const sent = fromClient ? flows.sentForward[f]++ : flows.sentReverse[f]++;
      if (proto === ICMP) {
        frame[l4] = v6 ? (fromClient ? 128 : 129) : fromClient ? 8 : 0;
        frame.writeUInt16BE(flows.clientPort[f], l4 + 4); // echo identifier
        stats.byProtocol.icmp++;
      } else {
        const clientPort = flows.clientPort[f];
        const serverPort = KIND_PORT[kind];
        frame.writeUInt16BE(fromClient ? clientPort : serverPort, l4);
        frame.writeUInt16BE(fromClient ? serverPort : clientPort, l4 + 2);
        if (proto === TCP) {
          const payload = frame.length - l4 - 20;
          frame[l4 + 13] = sent === 0 ? (fromClient ? 0x02 : 0x12) : payload > 0 ? 0x18 : 0x10;
          stats.byProtocol.tcp++;
        } else {
          stats.byProtocol.udp++;
        }
      }
      const keyIndex = f * 2 + (fromClient ? 0 : 1);
      if (seenKey[keyIndex] === 0) {
        seenKey[keyIndex] = 1;
        stats.flowKeys++;
      }

      const offsetNs = Math.floor(i * stepNs); // kept below 2^53: the epoch seconds are added apart
      const offsetSec = Math.floor(offsetNs / 1e9);
      record.tsSec = params.startSec + offsetSec;
      record.tsNanos = offsetNs - offsetSec * 1e9;
      record.frame = frame;
      writer.write(record);
      stats.fileBytes += 16 + frame.length;
      stats.frameBytes += frame.length;
      stats.ipBytes += frame.length - ETH;
      if (v6) stats.ipv6Packets++;
    }
    void writer.end(); // with a descriptor the flush is synchronous
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  stats.generateSec = (performance.now() - started) / 1000;
  return stats;
}

/** How many distinct template frames the generator builds (for the report). */
export function templateCount(): number {
  return new Templates().count;
}
