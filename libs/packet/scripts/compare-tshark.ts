/**
 * Cross-checks decodePacket against tshark, packet by packet.
 *
 *   npx tsx libs/packet/scripts/compare-tshark.ts FILE...
 *
 * For each file prints packets, matches and mismatches, mismatches grouped by
 * kind, with a few examples. How tshark is run (outermost occurrences, no
 * reassembly) is in ./tshark.ts. Not part of the test suite: it needs tshark
 * and real captures.
 */
import { decodePacket, formatIp, newDecodedPacket, readCaptureFile } from '../src/index.js';
import { IP_FIELDS, outerIp, runTsharkFields, type IpField, type OuterIp } from './tshark.js';

const FIELDS = ['frame.number', ...IP_FIELDS] as const;
type TsharkPacket = Record<(typeof FIELDS)[number], string>;

/** What a flow record would hold: addresses, protocol, ports, layer-3 bytes. */
type Summary = Pick<OuterIp, 'src' | 'dst' | 'protocol' | 'srcPort' | 'dstPort' | 'bytes'>;

function runTshark(path: string): Map<number, TsharkPacket> {
  const packets = new Map<number, TsharkPacket>();
  for (const packet of runTsharkFields(path, FIELDS)) packets.set(Number(packet['frame.number']), packet);
  return packets;
}

/** tshark's view of the outer IP header, or undefined when tshark saw no IP. */
function tsharkSummary(packet: Record<IpField, string>): Summary | undefined {
  const ip = outerIp(packet);
  if (!ip) return undefined;
  return { src: ip.src, dst: ip.dst, protocol: ip.protocol, srcPort: ip.srcPort, dstPort: ip.dstPort, bytes: ip.bytes };
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
      const reason = decodePacket(record.linkType, record.frame, out, record.wireLen);
      const ours: Summary | undefined =
        reason === null
          ? {
              src: formatIp(out.src, out.ipVersion),
              dst: formatIp(out.dst, out.ipVersion),
              protocol: out.protocol,
              srcPort: out.srcPort,
              dstPort: out.dstPort,
              bytes: out.bytes,
            }
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
      count(
        !ours ? `we skip as ${reason}, tshark sees IP` : !theirs ? 'we decode, tshark sees no IP' : 'fields differ',
      );
      if (examples.length < 5) {
        examples.push(
          `  #${frameNumber} ours ${JSON.stringify(ours ?? reason)}\n       tshark ${JSON.stringify(theirs)} [${packet?.['frame.protocols']}]`,
        );
      }
    }
  } catch (error) {
    count(`capture error: ${(error as Error).message}`);
  }
  console.log(
    `${path}: ${counts.packets} packets, ${counts.match} match, ${counts.mismatch} mismatch (tshark read ${tshark.size})`,
  );
  for (const [cause, n] of causes) console.log(`  ${n} × ${cause}`);
  for (const example of examples) console.log(example);
}

const paths = process.argv.slice(2);
if (paths.length === 0) {
  console.error('usage: npx tsx libs/packet/scripts/compare-tshark.ts FILE...');
  process.exit(2);
}
for (const path of paths) await compareFile(path);
