/**
 * The decoder against tshark on frames of the less common link layers (PPP, Cisco HDLC, PPPoE,
 * FabricPath, PPI, 802.11) and on a segmentation-offloaded IPv4 packet cut by a snaplen. Needs
 * tshark (CI installs it); skipped where it is missing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IP_FIELDS, hasTshark, outerIp, runTsharkFields } from '../scripts/tshark.js';
import {
  LinkType,
  buildEthernetFrame,
  buildIpPacket,
  decodePacket,
  formatIp,
  newDecodedPacket,
  readCaptureFile,
  writePcap,
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

const tsharkFound = hasTshark();
if (!tsharkFound) console.warn('tshark-links: tshark is not installed; skipping (apt-get install -y tshark to run it)');

const tcp4 = buildIpPacket({
  src: '10.0.0.1',
  dst: '10.0.0.2',
  protocol: 'tcp',
  srcPort: 40000,
  dstPort: 22,
  tcpFlags: 2,
  payloadLength: 30,
});
const udp6 = buildIpPacket({
  src: '2001:db8::1',
  dst: '2001:db8::2',
  protocol: 'udp',
  srcPort: 53,
  dstPort: 5353,
  payloadLength: 12,
});
const big4 = buildIpPacket({
  src: '10.0.0.3',
  dst: '10.0.0.4',
  protocol: 'tcp',
  srcPort: 443,
  dstPort: 50000,
  payloadLength: 9000,
});

const CAPTURES: Array<{ name: string; linkType: number; frames: Buffer[]; snaplen?: number }> = [
  {
    name: 'ppp',
    linkType: LinkType.PPP,
    frames: [pppFrame(tcp4), pppFrame(udp6), pppFrame(tcp4, { framing: false }), pppFrame(udp6, { compressed: true })],
  },
  { name: 'ppp serial', linkType: LinkType.PPP_HDLC, frames: [pppFrame(tcp4), ciscoHdlcFrame(udp6)] },
  { name: 'pppoe', linkType: LinkType.PPP_ETHER, frames: [pppoeSession(tcp4), pppoeSession(udp6)] },
  { name: 'cisco hdlc', linkType: LinkType.C_HDLC, frames: [ciscoHdlcFrame(tcp4), ciscoHdlcFrame(udp6)] },
  {
    name: 'ethernet: pppoe, fabricpath',
    linkType: LinkType.ETHERNET,
    frames: [
      pppoeEthernetFrame(tcp4),
      fabricPathFrame(buildEthernetFrame(udp6)),
      fabricPathFrame(buildEthernetFrame(tcp4, { vlan: [5] })),
    ],
  },
  {
    name: 'ppi',
    linkType: LinkType.PPI,
    frames: [
      ppiFrame(buildEthernetFrame(tcp4), LinkType.ETHERNET),
      ppiFrame(wifiDataFrame(udp6, { qos: true }), LinkType.IEEE802_11, 20),
      ppiFrame(wifiDataFrame(tcp4, { wds: true }), LinkType.IEEE802_11),
    ],
  },
  {
    name: '802.11',
    linkType: LinkType.IEEE802_11,
    frames: [wifiDataFrame(tcp4), wifiDataFrame(udp6, { qos: true, wds: true })],
  },
  {
    name: 'ipv4 total length 0, cut by the snaplen',
    linkType: LinkType.ETHERNET,
    frames: [offloadedFrame(big4), offloadedFrame(tcp4)],
    snaplen: 96,
  },
];

const dir = mkdtempSync(join(tmpdir(), 'tshark-links-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!tsharkFound)('decoder agrees with tshark on more link layers', () => {
  it.each(CAPTURES)('$name', async ({ name, linkType, frames, snaplen }) => {
    const path = join(dir, `${name.replace(/\W+/g, '-')}.pcap`);
    writeFileSync(
      path,
      writePcap(
        frames.map((frame, i) => ({ tsSec: 1_700_000_000 + i, frame })),
        { linkType, snaplen },
      ),
    );
    const theirs = runTsharkFields(path, IP_FIELDS).map((row) => {
      const ip = outerIp(row);
      return (
        ip && {
          src: ip.src,
          dst: ip.dst,
          protocol: ip.protocol,
          srcPort: ip.srcPort,
          dstPort: ip.dstPort,
          bytes: ip.bytes,
        }
      );
    });
    const ours = [];
    const out = newDecodedPacket();
    for await (const record of readCaptureFile(path)) {
      const reason = decodePacket(record.linkType, record.frame, out, record.wireLen);
      ours.push(
        reason ?? {
          src: formatIp(out.src, out.ipVersion),
          dst: formatIp(out.dst, out.ipVersion),
          protocol: out.protocol,
          srcPort: out.srcPort,
          dstPort: out.dstPort,
          bytes: out.bytes,
        },
      );
    }
    expect(theirs.length).toBe(frames.length);
    expect(theirs.every((ip) => ip !== undefined)).toBe(true);
    expect(ours).toEqual(theirs);
  });
});
