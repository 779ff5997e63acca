/**
 * Frames of the less common link layers, built around an IP packet, for the decoder's tests (unit,
 * fuzz and tshark agreement): PPP, Cisco HDLC, PPPoE, PPI, 802.11, FabricPath.
 */
import { buildEthernetFrame } from '../src/index.js';

const isV6 = (ip: Buffer) => ip[0] >> 4 === 6;

/** PPP (DLT_PPP 9): with HDLC-like framing (ff 03) or without, the protocol field compressed or not. */
export function pppFrame(ip: Buffer, opts: { framing?: boolean; compressed?: boolean } = {}): Buffer {
  const protocol = isV6(ip) ? 0x57 : 0x21;
  const field = opts.compressed ? Buffer.from([protocol]) : Buffer.from([0, protocol]);
  return Buffer.concat([opts.framing === false ? Buffer.alloc(0) : Buffer.from([0xff, 0x03]), field, ip]);
}

/** Cisco HDLC (DLT_C_HDLC 104): unicast address, control 0, EtherType. */
export function ciscoHdlcFrame(ip: Buffer, etherType = isV6(ip) ? 0x86dd : 0x0800): Buffer {
  const header = Buffer.from([0x0f, 0x00, 0, 0]);
  header.writeUInt16BE(etherType, 2);
  return Buffer.concat([header, ip]);
}

/** The PPPoE session header and PPP protocol field (what DLT_PPP_ETHER 51 frames hold). */
export function pppoeSession(ip: Buffer, code = 0): Buffer {
  const header = Buffer.alloc(8);
  header[0] = 0x11;
  header[1] = code;
  header.writeUInt16BE(0x1234, 2); // session id
  header.writeUInt16BE(ip.length + 2, 4);
  header.writeUInt16BE(isV6(ip) ? 0x57 : 0x21, 6);
  return Buffer.concat([header, ip]);
}

/** An Ethernet frame of EtherType 0x8864 (PPPoE session) around an IP packet. */
export function pppoeEthernetFrame(ip: Buffer): Buffer {
  const ethernet = Buffer.alloc(14, 0x02);
  ethernet.writeUInt16BE(0x8864, 12);
  return Buffer.concat([ethernet, pppoeSession(ip)]);
}

/** Cisco FabricPath: outer switch addresses, EtherType 0x8903, FTag/TTL, then the classic Ethernet frame. */
export function fabricPathFrame(ethernetFrame: Buffer): Buffer {
  const outer = Buffer.alloc(16);
  outer.set([0x02, 0, 0, 0x0c, 0, 0x0a], 0);
  outer.set([0x02, 0, 0, 0x0c, 0, 0x0b], 6);
  outer.writeUInt16BE(0x8903, 12);
  outer.writeUInt16BE((16 << 6) | 32, 14); // FTag 16, TTL 32
  return Buffer.concat([outer, ethernetFrame]);
}

/** IEEE 802.11 data frame to the AP (DLT 105): MAC header, QoS control when asked, LLC/SNAP, IP. */
export function wifiDataFrame(ip: Buffer, opts: { qos?: boolean; wds?: boolean; protected?: boolean } = {}): Buffer {
  const header = Buffer.alloc(24 + (opts.wds ? 6 : 0) + (opts.qos ? 2 : 0));
  header[0] = opts.qos ? 0x88 : 0x08; // type data, subtype data / QoS data
  header[1] = (opts.wds ? 0x03 : 0x01) | (opts.protected ? 0x40 : 0);
  for (let address = 0; address < (opts.wds ? 4 : 3); address++) {
    header.set([0x02, 0, 0, 0, 0, address + 1], address === 3 ? 24 : 4 + address * 6);
  }
  const snap = Buffer.from([0xaa, 0xaa, 0x03, 0, 0, 0, 0, 0]);
  snap.writeUInt16BE(isV6(ip) ? 0x86dd : 0x0800, 6);
  return Buffer.concat([header, snap, ip]);
}

/** A PPI header (DLT_PPI 192) naming `linkType` for the frame after it; `fieldBytes` of (empty) fields between. */
export function ppiFrame(frame: Buffer, linkType: number, fieldBytes = 0): Buffer {
  const header = Buffer.alloc(8 + fieldBytes);
  header.writeUInt16LE(header.length, 2);
  header.writeUInt32LE(linkType, 4);
  return Buffer.concat([header, frame]);
}

/** An Ethernet frame as a TSO/GSO capture shows it: IPv4 total length 0. */
export function offloadedFrame(ip: Buffer): Buffer {
  const copy = Buffer.from(ip);
  copy.writeUInt16BE(0, 2);
  return buildEthernetFrame(copy);
}
