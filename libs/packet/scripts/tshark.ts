/**
 * Running tshark as an independent decoder, for the cross-check scripts and
 * tests (libs/packet/scripts/compare-tshark.ts, libs/flow/scripts/…). Not part
 * of the library: it needs tshark on the PATH.
 *
 * tshark prints every occurrence of a field (inner headers of tunnels and of
 * ICMP errors too); `-E occurrence=f` keeps the first, i.e. the outermost,
 * which is what the decoder reports. Reassembly is off so that tshark, like
 * the decoder, sees each fragment on its own (a first fragment's ports
 * dissected, a non-first fragment's not).
 */
import { spawnSync } from 'node:child_process';

/** Fields describing the outer IP header and its transport ports; what `outerIp` reads. */
export const IP_FIELDS = [
  'frame.protocols',
  'ip.src',
  'ip.dst',
  'ipv6.src',
  'ipv6.dst',
  'ip.proto',
  'ipv6.nxt',
  'tcp.srcport',
  'tcp.dstport',
  'udp.srcport',
  'udp.dstport',
  'sctp.srcport',
  'sctp.dstport',
  'ip.len',
  'ipv6.plen',
  'ipv6.hopopts.nxt',
  'ipv6.routing.nxt',
  'ipv6.fraghdr.nxt',
  'ipv6.dstopts.nxt',
  'ah.next_header',
] as const;
export type IpField = (typeof IP_FIELDS)[number];

/** True when a `tshark` binary answers. */
export function hasTshark(): boolean {
  const { status, error } = spawnSync('tshark', ['-v'], { stdio: 'ignore' });
  return !error && status === 0;
}

/**
 * One row per frame tshark read, in frame order, each field's first
 * occurrence ('' when absent). tshark exits non-zero on a damaged file after
 * printing what it could read; that output is returned all the same.
 */
export function runTsharkFields<F extends string>(path: string, fields: readonly F[]): Array<Record<F, string>> {
  const args = [
    '-r',
    path,
    '-n',
    '-o',
    'ip.defragment:FALSE',
    '-o',
    'ipv6.defragment:FALSE',
    '-T',
    'fields',
    '-E',
    'separator=\t',
    '-E',
    'occurrence=f',
    ...fields.flatMap((f) => ['-e', f]),
  ];
  const { stdout: text, error } = spawnSync('tshark', args, {
    maxBuffer: 1 << 30,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  if (error) throw error;
  const rows: Array<Record<F, string>> = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const values = line.split('\t');
    rows.push(Object.fromEntries(fields.map((field, i) => [field, values[i] ?? ''])) as Record<F, string>);
  }
  return rows;
}

/** IPv6 extension headers and the tshark field holding the header that follows each. */
export const EXTENSION_NEXT: Record<number, IpField> = {
  0: 'ipv6.hopopts.nxt',
  43: 'ipv6.routing.nxt',
  44: 'ipv6.fraghdr.nxt',
  60: 'ipv6.dstopts.nxt',
  51: 'ah.next_header',
};

const PORT_FIELDS: Record<number, 'tcp' | 'udp' | 'sctp'> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

/** tshark's view of the outer IP header: what a flow record would hold. */
export interface OuterIp {
  ipVersion: 4 | 6;
  src: string;
  dst: string;
  protocol: number;
  srcPort: number;
  dstPort: number;
  /** Layer 3: IPv4 total length, IPv6 40 + payload length. */
  bytes: number;
  /** Whether tshark dissected the transport header that carries ports (TCP, UDP, SCTP). */
  hasPorts: boolean;
}

/** The outer IP header of a row holding IP_FIELDS, or undefined when tshark saw no (valid) IP. */
export function outerIp(packet: Record<IpField, string>): OuterIp | undefined {
  const layers = packet['frame.protocols'].split(':');
  const ipLayer = layers.findIndex((layer) => layer === 'ip' || layer === 'ipv6');
  if (ipLayer < 0) return undefined;
  const v6 = layers[ipLayer] === 'ipv6';
  const src = v6 ? packet['ipv6.src'] : packet['ip.src'];
  if (src === '') return undefined; // tshark found the IP header invalid
  let protocol = Number(v6 ? packet['ipv6.nxt'] : packet['ip.proto']);
  // Follow the extension header chain as the decoder does.
  for (let hops = 0; v6 && hops < 8 && EXTENSION_NEXT[protocol] && packet[EXTENSION_NEXT[protocol]] !== ''; hops++) {
    protocol = Number(packet[EXTENSION_NEXT[protocol]]);
  }
  // The first TCP occurrence may belong to a tunnel's inner packet (GTP-U, VXLAN): take the outer protocol's own ports.
  const transport = PORT_FIELDS[protocol];
  const port = (name: 'srcport' | 'dstport') => (transport ? Number(packet[`${transport}.${name}`] || 0) : 0);
  return {
    ipVersion: v6 ? 6 : 4,
    src,
    dst: v6 ? packet['ipv6.dst'] : packet['ip.dst'],
    protocol,
    srcPort: port('srcport'),
    dstPort: port('dstport'),
    bytes: v6 ? 40 + Number(packet['ipv6.plen']) : Number(packet['ip.len']),
    hasPorts: transport !== undefined && packet[`${transport}.srcport`] !== '' && packet[`${transport}.dstport`] !== '',
  };
}
