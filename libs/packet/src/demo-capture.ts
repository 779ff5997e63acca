/**
 * The demo's traffic, made here rather than shipped: about 20 seconds of one ENI's life — a ping,
 * HTTPS sessions, DNS lookups, an inbound SSH session and some IPv6 — as an Ethernet pcap.
 */
import { buildEthernetFrame, buildIpPacket, writePcap, type CaptureInput, type PacketSpec } from './build.js';

export const DEMO_NETWORK = { vpcCidr: '10.0.0.0/16', subnetCidr: '10.0.1.0/24', eniIp: '10.0.1.10' } as const;

const SYN = 2,
  ACK = 16,
  PSH = 8,
  FIN = 1;

export function demoCapture(startTs: number): Buffer {
  const frames: CaptureInput[] = [];
  const at = (t: number, spec: PacketSpec) => {
    const ts = startTs + t;
    frames.push({
      tsSec: Math.floor(ts),
      tsNanos: Math.round((ts % 1) * 1e9),
      frame: buildEthernetFrame(buildIpPacket(spec)),
    });
  };
  const eni = DEMO_NETWORK.eniIp;

  // ping -c 9 10.0.1.20: 84-byte echo requests and replies, one a second.
  for (let i = 0; i < 9; i++) {
    at(i, { src: eni, dst: '10.0.1.20', protocol: 'icmp', payloadLength: 56 });
    at(i + 0.0004, { src: '10.0.1.20', dst: eni, protocol: 'icmp', payloadLength: 56 });
  }
  // HTTPS sessions to two servers.
  [
    ['93.184.216.34', 51000],
    ['151.101.1.69', 51002],
  ].forEach(([server, port], n) => {
    const t0 = 1.5 + n * 6;
    const out = (t: number, flags: number, len = 0) =>
      at(t0 + t, {
        src: eni,
        dst: server as string,
        protocol: 'tcp',
        srcPort: port as number,
        dstPort: 443,
        tcpFlags: flags,
        payloadLength: len,
      });
    const back = (t: number, flags: number, len = 0) =>
      at(t0 + t, {
        src: server as string,
        dst: eni,
        protocol: 'tcp',
        srcPort: 443,
        dstPort: port as number,
        tcpFlags: flags,
        payloadLength: len,
      });
    out(0, SYN);
    back(0.02, SYN | ACK);
    out(0.021, ACK);
    out(0.03, PSH | ACK, 517);
    for (let i = 0; i < 12; i++) back(0.06 + i * 0.01, ACK, 1448);
    out(0.2, ACK);
    out(3, FIN | ACK);
    back(3.02, FIN | ACK);
    out(3.021, ACK);
  });
  // DNS lookups.
  for (let i = 0; i < 5; i++) {
    at(0.5 + i * 4, { src: eni, dst: '10.0.0.2', protocol: 'udp', srcPort: 40000 + i, dstPort: 53, payloadLength: 30 });
    at(0.5 + i * 4 + 0.001, {
      src: '10.0.0.2',
      dst: eni,
      protocol: 'udp',
      srcPort: 53,
      dstPort: 40000 + i,
      payloadLength: 46,
    });
  }
  // An operator's SSH session, inbound.
  for (let i = 0; i < 20; i++) {
    at(2 + i * 0.8, {
      src: '203.0.113.7',
      dst: eni,
      protocol: 'tcp',
      srcPort: 61022,
      dstPort: 22,
      tcpFlags: i ? PSH | ACK : SYN,
      payloadLength: i ? 36 : 0,
    });
    at(2 + i * 0.8 + 0.001, {
      src: eni,
      dst: '203.0.113.7',
      protocol: 'tcp',
      srcPort: 22,
      dstPort: 61022,
      tcpFlags: i ? PSH | ACK : SYN | ACK,
      payloadLength: i ? 52 : 0,
    });
  }
  // IPv6 to a time server.
  for (let i = 0; i < 4; i++)
    at(3 + i * 5, {
      src: '2001:db8:1::10',
      dst: '2001:db8::123',
      protocol: 'udp',
      srcPort: 123,
      dstPort: 123,
      payloadLength: 48,
    });

  frames.sort((a, b) => a.tsSec - b.tsSec || (a.tsNanos ?? 0) - (b.tsNanos ?? 0));
  return writePcap(frames);
}
