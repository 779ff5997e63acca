/**
 * Cross-checks decodePacket against tshark, packet by packet.
 *
 *   npx tsx libs/packet/scripts/compare-tshark.ts FILE...
 *
 * For each file prints packets, matches and mismatches, mismatches grouped by
 * kind, with a few examples. tshark prints every occurrence of a field (inner
 * headers of tunnels and of ICMP errors too); `-E occurrence=f` keeps the
 * first, i.e. the outermost, which is what the decoder reports. Not part of
 * the test suite: it needs tshark and real captures.
 */
import { spawnSync } from 'node:child_process';
import { decodePacket, formatIp, newDecodedPacket, readCaptureFile } from '../src/index.js';

const FIELDS = [
  'frame.number', 'frame.protocols',
  'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'ip.proto', 'ipv6.nxt',
  'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport', 'sctp.srcport', 'sctp.dstport',
  'ip.len', 'ipv6.plen',
  'ipv6.hopopts.nxt', 'ipv6.routing.nxt', 'ipv6.fraghdr.nxt', 'ipv6.dstopts.nxt', 'ah.next_header',
] as const;
type Field = (typeof FIELDS)[number];
type TsharkPacket = Record<Field, string>;

/** What a flow record would hold: addresses, protocol, ports, layer-3 bytes. */
interface Summary {
  src: string;
  dst: string;
  protocol: number;
  srcPort: number;
  dstPort: number;
  bytes: number;
}

function runTshark(path: string): Map<number, TsharkPacket> {
  // Without reassembly tshark dissects a first fragment's ports, as the decoder does.
  const args = ['-r', path, '-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE', '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=f', ...FIELDS.flatMap((f) => ['-e', f])];
  // tshark exits non-zero on a damaged file after printing what it could read; that output is still wanted.
  const { stdout: text, error } = spawnSync('tshark', args, { maxBuffer: 1 << 30, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  if (error) throw error;
  const packets = new Map<number, TsharkPacket>();
  for (const line of text.split('\n')) {
    if (!line) continue;
    const values = line.split('\t');
    const packet = Object.fromEntries(FIELDS.map((field, i) => [field, values[i] ?? ''])) as TsharkPacket;
    packets.set(Number(packet['frame.number']), packet);
  }
  return packets;
}

/** IPv6 extension headers and the tshark field holding the header that follows each. */
const EXTENSION_NEXT: Record<number, Field> = {
  0: 'ipv6.hopopts.nxt',
  43: 'ipv6.routing.nxt',
  44: 'ipv6.fraghdr.nxt',
  60: 'ipv6.dstopts.nxt',
  51: 'ah.next_header',
};

const PORT_FIELDS: Record<number, 'tcp' | 'udp' | 'sctp'> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

/** tshark's view of the outer IP header, or undefined when tshark saw no IP. */
function tsharkSummary(packet: TsharkPacket): Summary | undefined {
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
    src,
    dst: v6 ? packet['ipv6.dst'] : packet['ip.dst'],
    protocol,
    srcPort: port('srcport'),
    dstPort: port('dstport'),
    bytes: v6 ? 40 + Number(packet['ipv6.plen']) : Number(packet['ip.len']),
  };
}

async function compareFile(path: string): Promise<void> {
  const tshark = runTshark(path);
  const out = newDecodedPacket();
  const counts = { packets: 0, match: 0, mismatch: 0 };
  const causes = new Map<string, number>();
  const examples: string[] = [];
  const count = (cause: string) => causes.set(cause, (causes.get(cause) ?? 0) + 1);
  let frameNumber = 0;
  try {
    for await (const record of readCaptureFile(path)) {
      frameNumber++;
      counts.packets++;
      const reason = decodePacket(record.linkType, record.frame, out);
      const ours: Summary | undefined = reason === null
        ? { src: formatIp(out.src, out.ipVersion), dst: formatIp(out.dst, out.ipVersion), protocol: out.protocol, srcPort: out.srcPort, dstPort: out.dstPort, bytes: out.bytes }
        : undefined;
      const packet = tshark.get(frameNumber);
      const theirs = packet && tsharkSummary(packet);
      if (!ours && !theirs) {
        counts.match++;
        count(`both skip (ours: ${reason})`);
        continue;
      }
      if (ours && theirs && JSON.stringify(ours) === JSON.stringify(theirs)) {
        counts.match++;
        continue;
      }
      counts.mismatch++;
      count(!ours ? `we skip as ${reason}, tshark sees IP` : !theirs ? 'we decode, tshark sees no IP' : 'fields differ');
      if (examples.length < 5) {
        examples.push(`  #${frameNumber} ours ${JSON.stringify(ours ?? reason)}\n       tshark ${JSON.stringify(theirs)} [${packet?.['frame.protocols']}]`);
      }
    }
  } catch (error) {
    count(`capture error: ${(error as Error).message}`);
  }
  console.log(`${path}: ${counts.packets} packets, ${counts.match} match, ${counts.mismatch} mismatch (tshark read ${tshark.size})`);
  for (const [cause, n] of causes) console.log(`  ${n} × ${cause}`);
  for (const example of examples) console.log(example);
}

const paths = process.argv.slice(2);
if (paths.length === 0) {
  console.error('usage: npx tsx libs/packet/scripts/compare-tshark.ts FILE...');
  process.exit(2);
}
for (const path of paths) await compareFile(path);
