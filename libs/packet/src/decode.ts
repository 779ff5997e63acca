/**
 * Link, network and transport header decoding for flow accounting.
 *
 * This is the capture hot path: `decodePacket` fills a caller-owned
 * `DecodedPacket` and allocates nothing per packet (the NFLOG prefix string is
 * the one exception, and only when it differs from the previous packet's).
 * Every read is bounds-checked against the captured length, so any input
 * yields either a filled record or a `SkipReason`, never an exception.
 */

/** libpcap LINKTYPE_* values this decoder understands. */
export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  PPP: 9,
  PPP_HDLC: 50,
  PPP_ETHER: 51,
  RAW: 101,
  C_HDLC: 104,
  IEEE802_11: 105,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  PPI: 192,
  NFLOG: 239,
  LINUX_SLL2: 276,
} as const;

/** DLT_RAW is 12 on most BSDs and 14 on OpenBSD; files written there carry those values. */
const LINKTYPE_RAW_BSD = 12;
const LINKTYPE_RAW_OPENBSD = 14;

export type SkipReason = 'non-ip' | 'truncated' | 'malformed' | 'unsupported-link';
export const SKIP_REASONS: readonly SkipReason[] = ['non-ip', 'truncated', 'malformed', 'unsupported-link'];

export interface DecodedPacket {
  ipVersion: 4 | 6;
  /** 16 bytes; IPv4 uses the first 4 and the rest is zero. */
  src: Uint8Array;
  dst: Uint8Array;
  /** IANA protocol of the outer IP header's payload, after IPv6 extension headers. */
  protocol: number;
  /** TCP/UDP/SCTP/UDP-Lite ports; 0 for other protocols and non-first fragments. */
  srcPort: number;
  dstPort: number;
  /** Layer-3 length as on the wire: IPv4 total length, IPv6 40 + payload length. */
  bytes: number;
  /** TCP flags byte (FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32, ...); 0 for other protocols. */
  tcpFlags: number;
  /** NFLOG only: the log prefix of the rule that logged the packet, e.g. "accept". */
  nflogPrefix: string | undefined;
  /**
   * The IP version of the innermost packet of a GRE or IP-in-IP tunnel, whose addresses are in
   * pktSrc/pktDst (16 bytes, IPv4 in the first 4); 0 when the packet is not tunnelled (they equal src/dst).
   */
  pktIpVersion: 0 | 4 | 6;
  pktSrc: Uint8Array;
  pktDst: Uint8Array;
}

export function newDecodedPacket(): DecodedPacket {
  return {
    ipVersion: 4,
    src: new Uint8Array(16),
    dst: new Uint8Array(16),
    protocol: 0,
    srcPort: 0,
    dstPort: 0,
    bytes: 0,
    tcpFlags: 0,
    nflogPrefix: undefined,
    pktIpVersion: 0,
    pktSrc: new Uint8Array(16),
    pktDst: new Uint8Array(16),
  };
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const ETHERTYPE_QINQ_OLD = 0x9100;
const ETHERTYPE_PPPOE_SESSION = 0x8864;
/** Cisco FabricPath (DCE): the outer header's EtherType, then FTag/TTL and the inner Ethernet header. */
const ETHERTYPE_FABRICPATH = 0x8903;
const FABRICPATH_TAG_AND_INNER_HEADER = 2 + 14;
/** EtherType values up to 1500 are 802.3 length fields; 1536 and up are types. */
const ETHERTYPE_MAX_LENGTH = 1500;
const ETHERTYPE_MIN_TYPE = 0x0600;

const AF_INET = 2;
/** AF_INET6 differs per BSD: NetBSD/OpenBSD 24, FreeBSD 28, macOS 30. */
const AF_INET6_BSD = 24;
const AF_INET6_FREEBSD = 28;
const AF_INET6_DARWIN = 30;
/** NFLOG's family byte is the Linux value. */
const AF_INET6_LINUX = 10;

const PPP_ADDRESS_ALL_STATIONS = 0xff;
const PPP_CONTROL_UNNUMBERED = 0x03;
const PPP_IPV4 = 0x21;
const PPP_IPV6 = 0x57;
/** PPPoE session header: version/type, code, session id, length. */
const PPPOE_HEADER_LENGTH = 6;
const PPPOE_VERSION_TYPE = 0x11;
/** Cisco HDLC address byte: unicast and multicast. */
const CHDLC_UNICAST = 0x0f;
const CHDLC_MULTICAST = 0x8f;
/** PPI packet header: version, flags, length (LE), the link type of what follows (LE). */
const PPI_HEADER_LENGTH = 8;

const IEEE802_11_TYPE_DATA = 2;
const IEEE802_11_TO_AND_FROM_DS = 0x03;
const IEEE802_11_PROTECTED = 0x40;
const IEEE802_11_ORDER = 0x80;

const NFULA_PAYLOAD = 9;
const NFULA_PREFIX = 10;
/** Netlink attribute types carry the NESTED and NET_BYTEORDER flags in their top two bits. */
const NLA_TYPE_MASK = 0x3fff;

const PROTO_HOPOPTS = 0;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
const PROTO_ROUTING = 43;
const PROTO_FRAGMENT = 44;
const PROTO_AH = 51;
const PROTO_DSTOPTS = 60;
const PROTO_MOBILITY = 135;
const PROTO_SCTP = 132;
const PROTO_IPIP = 4;
const PROTO_IPV6 = 41;
const PROTO_GRE = 47;
/** Tunnels inside tunnels followed at most: a bound on the work a crafted packet can ask for. */
const MAX_TUNNEL_DEPTH = 8;
const PROTO_UDPLITE = 136;

/** TCP needs 14 bytes to reach the flags byte; UDP, SCTP and UDP-Lite 4 for the ports. */
const TCP_BYTES_THROUGH_FLAGS = 14;
const PORTS_BYTES = 4;

/**
 * Bytes of the frame being decoded that the capture cut off (wire length minus captured length).
 * Only an IPv4 header whose total length is 0 needs them; set by decodeFrame on each call, which
 * runs synchronously to the end, so no other frame can see the value.
 */
let uncapturedBytes = 0;

/**
 * Decodes one captured frame; returns null when `out` was filled, or the
 * reason the frame is skipped. Never throws on any input. `wireLength`: the
 * frame's length on the wire, when a snaplen may have cut it.
 */
export function decodePacket(
  linkType: number,
  frame: Uint8Array,
  out: DecodedPacket,
  wireLength?: number,
): SkipReason | null {
  return decodeFrame(linkType, frame, 0, frame.length, out, wireLength);
}

/** decodePacket of the frame that lies in `data` from `start` to `end`, read in place. */
export function decodeFrame(
  linkType: number,
  frame: Uint8Array,
  start: number,
  end: number,
  out: DecodedPacket,
  wireLength = end - start,
): SkipReason | null {
  const previousPrefix = out.nflogPrefix;
  out.srcPort = 0;
  out.dstPort = 0;
  out.tcpFlags = 0;
  out.nflogPrefix = undefined;
  out.pktIpVersion = 0;
  uncapturedBytes = wireLength > end - start ? wireLength - (end - start) : 0;
  return decodeLink(linkType, frame, start, end, out, previousPrefix);
}

function decodeLink(
  linkType: number,
  frame: Uint8Array,
  start: number,
  end: number,
  out: DecodedPacket,
  previousPrefix: string | undefined,
): SkipReason | null {
  const length = end - start;
  switch (linkType) {
    case LinkType.ETHERNET:
      if (length < 14) return 'truncated';
      return decodeEtherType(frame, start + 14, readU16(frame, start + 12), end, out);
    case LinkType.LINUX_SLL:
      if (length < 16) return 'truncated';
      return decodeCookedProtocol(frame, start + 16, readU16(frame, start + 14), end, out);
    case LinkType.LINUX_SLL2:
      if (length < 20) return 'truncated';
      return decodeCookedProtocol(frame, start + 20, readU16(frame, start), end, out);
    case LinkType.RAW:
    case LINKTYPE_RAW_BSD:
    case LINKTYPE_RAW_OPENBSD:
      if (length < 1) return 'truncated';
      return decodeIpByVersion(frame, start, end, out);
    case LinkType.IPV4:
      return decodeIpv4(frame, start, end, out);
    case LinkType.IPV6:
      return decodeIpv6(frame, start, end, out);
    case LinkType.NULL: {
      if (length < 4) return 'truncated';
      // Host byte order of the capturing machine: a small family read as
      // little-endian from a big-endian capture lands in the top byte.
      const littleEndian =
        (frame[start] | (frame[start + 1] << 8) | (frame[start + 2] << 16) | (frame[start + 3] << 24)) >>> 0;
      const family = littleEndian > 0xffff ? readU32(frame, start) : littleEndian;
      return decodeBsdFamily(frame, start, family, end, out);
    }
    case LinkType.LOOP:
      if (length < 4) return 'truncated';
      return decodeBsdFamily(frame, start, readU32(frame, start), end, out);
    case LinkType.NFLOG:
      return decodeNflog(frame, start, end, out, previousPrefix);
    case LinkType.PPP:
    case LinkType.PPP_HDLC:
      return decodePpp(frame, start, end, out);
    case LinkType.PPP_ETHER:
      return decodePppoe(frame, start, end, out);
    case LinkType.C_HDLC:
      return decodeCiscoHdlc(frame, start, end, out);
    case LinkType.IEEE802_11:
      return decodeIeee80211(frame, start, end, out);
    case LinkType.PPI:
      return decodePpi(frame, start, end, out, previousPrefix);
    default:
      return 'unsupported-link';
  }
}

function readU16(frame: Uint8Array, at: number): number {
  return (frame[at] << 8) | frame[at + 1];
}

function readU32(frame: Uint8Array, at: number): number {
  return ((frame[at] << 24) | (frame[at + 1] << 16) | (frame[at + 2] << 8) | frame[at + 3]) >>> 0;
}

/** Linux cooked headers carry an EtherType, or a small ARPHRD-specific value for non-Ethernet payloads. */
function decodeCookedProtocol(
  frame: Uint8Array,
  at: number,
  protocol: number,
  end: number,
  out: DecodedPacket,
): SkipReason | null {
  if (protocol < ETHERTYPE_MIN_TYPE) return 'non-ip';
  return decodeEtherType(frame, at, protocol, end, out);
}

/**
 * Decodes what follows an EtherType field at `at`: VLAN tags, FabricPath, PPPoE, 802.2 LLC/SNAP or
 * IP. Tags and FabricPath headers are walked in a loop, not by recursion: a frame of nested
 * headers cannot grow the stack.
 */
function decodeEtherType(
  frame: Uint8Array,
  at: number,
  etherType: number,
  end: number,
  out: DecodedPacket,
): SkipReason | null {
  for (;;) {
    if (etherType === ETHERTYPE_VLAN || etherType === ETHERTYPE_QINQ || etherType === ETHERTYPE_QINQ_OLD) {
      if (end - at < 4) return 'truncated';
      etherType = readU16(frame, at + 2);
      at += 4;
    } else if (etherType === ETHERTYPE_FABRICPATH) {
      if (end - at < FABRICPATH_TAG_AND_INNER_HEADER) return 'truncated';
      etherType = readU16(frame, at + FABRICPATH_TAG_AND_INNER_HEADER - 2);
      at += FABRICPATH_TAG_AND_INNER_HEADER;
    } else {
      break;
    }
  }
  if (etherType === ETHERTYPE_IPV4) return decodeIpv4(frame, at, end, out);
  if (etherType === ETHERTYPE_IPV6) return decodeIpv6(frame, at, end, out);
  if (etherType === ETHERTYPE_PPPOE_SESSION) return decodePppoe(frame, at, end, out);
  if (etherType <= ETHERTYPE_MAX_LENGTH) return decodeLlc(frame, at, end, out);
  return 'non-ip';
}

/** PPPoE session stage (RFC 2516): the 6-byte header, then a PPP protocol field. */
function decodePppoe(frame: Uint8Array, at: number, end: number, out: DecodedPacket): SkipReason | null {
  if (end - at < PPPOE_HEADER_LENGTH) return 'truncated';
  // Version 1, type 1; code 0 is session data (discovery packets carry other codes and no IP).
  if (frame[at] !== PPPOE_VERSION_TYPE) return 'malformed';
  if (frame[at + 1] !== 0) return 'non-ip';
  return decodePppProtocol(frame, at + PPPOE_HEADER_LENGTH, end, out);
}

/**
 * DLT_PPP and DLT_PPP_SERIAL: PPP with or without HDLC-like framing (address 0xff, control 0x03);
 * a serial capture may also hold Cisco HDLC frames, told apart by their address byte.
 */
function decodePpp(frame: Uint8Array, at: number, end: number, out: DecodedPacket): SkipReason | null {
  if (end - at < 2) return 'truncated';
  if (frame[at] === CHDLC_UNICAST || frame[at] === CHDLC_MULTICAST) return decodeCiscoHdlc(frame, at, end, out);
  if (frame[at] === PPP_ADDRESS_ALL_STATIONS && frame[at + 1] === PPP_CONTROL_UNNUMBERED) at += 2;
  return decodePppProtocol(frame, at, end, out);
}

/** A PPP protocol field (RFC 1661): one byte when compressed (an odd first byte), else two. */
function decodePppProtocol(frame: Uint8Array, at: number, end: number, out: DecodedPacket): SkipReason | null {
  if (end - at < 1) return 'truncated';
  let protocol = frame[at];
  if (protocol & 1) {
    at += 1;
  } else {
    if (end - at < 2) return 'truncated';
    protocol = readU16(frame, at);
    at += 2;
  }
  if (protocol === PPP_IPV4) return decodeIpv4(frame, at, end, out);
  if (protocol === PPP_IPV6) return decodeIpv6(frame, at, end, out);
  return 'non-ip';
}

/** Cisco HDLC: address, control, then an EtherType. */
function decodeCiscoHdlc(frame: Uint8Array, at: number, end: number, out: DecodedPacket): SkipReason | null {
  if (end - at < 4) return 'truncated';
  const protocol = readU16(frame, at + 2);
  if (protocol === ETHERTYPE_IPV4) return decodeIpv4(frame, at + 4, end, out);
  if (protocol === ETHERTYPE_IPV6) return decodeIpv6(frame, at + 4, end, out);
  return 'non-ip';
}

/**
 * IEEE 802.11 data frames without encryption: the MAC header (24 bytes, a fourth address in
 * WDS frames, QoS control, HT control) then LLC/SNAP. Management, control, null-data and
 * protected frames carry no readable IP.
 */
function decodeIeee80211(frame: Uint8Array, at: number, end: number, out: DecodedPacket): SkipReason | null {
  if (end - at < 2) return 'truncated';
  const typeAndSubtype = frame[at];
  const flags = frame[at + 1];
  if (((typeAndSubtype >> 2) & 0x03) !== IEEE802_11_TYPE_DATA) return 'non-ip';
  const subtype = typeAndSubtype >> 4;
  // Subtypes with bit 2 set (null data, CF-ack/poll without data) have no body.
  if (subtype & 0x04 || flags & IEEE802_11_PROTECTED) return 'non-ip';
  const qos = (subtype & 0x08) !== 0;
  let headerLength = 24;
  if ((flags & IEEE802_11_TO_AND_FROM_DS) === IEEE802_11_TO_AND_FROM_DS) headerLength += 6;
  if (qos) headerLength += 2;
  if (qos && flags & IEEE802_11_ORDER) headerLength += 4;
  if (end - at < headerLength) return 'truncated';
  return decodeLlc(frame, at + headerLength, end, out);
}

/** PPI (Per-Packet Information): a little-endian header naming the link type of the frame after it. */
function decodePpi(
  frame: Uint8Array,
  at: number,
  end: number,
  out: DecodedPacket,
  previousPrefix: string | undefined,
): SkipReason | null {
  if (end - at < PPI_HEADER_LENGTH) return 'truncated';
  if (frame[at] !== 0) return 'malformed';
  const headerLength = frame[at + 2] | (frame[at + 3] << 8);
  const linkType = (frame[at + 4] | (frame[at + 5] << 8) | (frame[at + 6] << 16) | (frame[at + 7] << 24)) >>> 0;
  if (headerLength < PPI_HEADER_LENGTH) return 'malformed';
  if (end - at < headerLength) return 'truncated';
  // PPI inside PPI is not a thing; refusing it also bounds the recursion.
  if (linkType === LinkType.PPI) return 'malformed';
  return decodeLink(linkType, frame, at + headerLength, end, out, previousPrefix);
}

/** 802.3 frame: IP only travels in a SNAP header (AA AA 03, OUI, EtherType). */
function decodeLlc(frame: Uint8Array, at: number, end: number, out: DecodedPacket): SkipReason | null {
  if (end - at < 3) return 'truncated';
  const isSnap = frame[at] === 0xaa && frame[at + 1] === 0xaa && frame[at + 2] === 0x03;
  if (!isSnap) return 'non-ip';
  if (end - at < 8) return 'truncated';
  const etherType = readU16(frame, at + 6);
  if (etherType === ETHERTYPE_IPV4) return decodeIpv4(frame, at + 8, end, out);
  if (etherType === ETHERTYPE_IPV6) return decodeIpv6(frame, at + 8, end, out);
  return 'non-ip';
}

function decodeBsdFamily(
  frame: Uint8Array,
  start: number,
  family: number,
  end: number,
  out: DecodedPacket,
): SkipReason | null {
  if (family === AF_INET) return decodeIpv4(frame, start + 4, end, out);
  if (family === AF_INET6_BSD || family === AF_INET6_FREEBSD || family === AF_INET6_DARWIN) {
    return decodeIpv6(frame, start + 4, end, out);
  }
  return 'non-ip';
}

function decodeIpByVersion(frame: Uint8Array, at: number, end: number, out: DecodedPacket): SkipReason | null {
  const version = frame[at] >> 4;
  if (version === 4) return decodeIpv4(frame, at, end, out);
  if (version === 6) return decodeIpv6(frame, at, end, out);
  return 'malformed';
}

/**
 * NFLOG: a 4-byte header (family, version, resource id) then netlink TLVs
 * whose length (header included) and type are little-endian.
 */
function decodeNflog(
  frame: Uint8Array,
  start: number,
  end: number,
  out: DecodedPacket,
  previousPrefix: string | undefined,
): SkipReason | null {
  if (end - start < 4) return 'truncated';
  const family = frame[start];
  let payloadStart = -1;
  let payloadEnd = -1;
  let at = start + 4;
  while (at < end) {
    if (end - at < 4) return 'truncated';
    const tlvLength = frame[at] | (frame[at + 1] << 8);
    const type = (frame[at + 2] | (frame[at + 3] << 8)) & NLA_TYPE_MASK;
    if (tlvLength < 4) return 'malformed';
    const valueEnd = at + tlvLength;
    if (type === NFULA_PAYLOAD) {
      // A snaplen cuts the payload TLV short; its IP headers are still usable.
      payloadStart = at + 4;
      payloadEnd = Math.min(valueEnd, end);
      uncapturedBytes = valueEnd - payloadEnd;
    } else if (valueEnd > end) {
      return 'truncated';
    } else if (type === NFULA_PREFIX) {
      out.nflogPrefix = readPrefix(frame, at + 4, valueEnd, previousPrefix);
    }
    at += (tlvLength + 3) & ~3;
  }
  // No payload TLV: the rule logged without copying the packet (copy range 0).
  if (payloadStart < 0) return 'truncated';
  if (family === AF_INET) return decodeIpv4(frame, payloadStart, payloadEnd, out);
  if (family === AF_INET6_LINUX) return decodeIpv6(frame, payloadStart, payloadEnd, out);
  return 'non-ip';
}

const utf8 = new TextDecoder();

/** NUL-terminated prefix text; reuses the previous packet's string when the bytes are the same (the usual case). */
function readPrefix(frame: Uint8Array, start: number, end: number, previous: string | undefined): string {
  let stop = start;
  while (stop < end && frame[stop] !== 0) stop++;
  if (previous !== undefined && previous.length === stop - start) {
    let same = true;
    for (let i = 0; i < previous.length && same; i++) same = previous.charCodeAt(i) === frame[start + i];
    if (same) return previous;
  }
  return utf8.decode(frame.subarray(start, stop));
}

/**
 * Whether `length` bytes from `at` are inside the IP packet (`ipEnd`, from its
 * length fields) and inside the capture (`end`).
 */
function lacking(at: number, length: number, ipEnd: number, end: number): SkipReason | null {
  if (at + length > ipEnd) return 'malformed';
  if (at + length > end) return 'truncated';
  return null;
}

function decodeIpv4(frame: Uint8Array, at: number, end: number, out: DecodedPacket): SkipReason | null {
  if (end - at < 20) return 'truncated';
  const versionAndIhl = frame[at];
  if (versionAndIhl >> 4 !== 4) return 'malformed';
  const headerLength = (versionAndIhl & 0x0f) * 4;
  // Total length 0: a segmentation-offloaded packet (TSO/GSO) captured before the NIC split it;
  // its length is the frame's from here on the wire, as tshark presumes.
  const totalLength = readU16(frame, at + 2) || end - at + uncapturedBytes;
  if (headerLength < 20 || totalLength < headerLength) return 'malformed';
  if (end - at < headerLength) return 'truncated';
  out.ipVersion = 4;
  out.bytes = totalLength;
  out.protocol = frame[at + 9];
  copyIpv4Address(frame, at + 12, out.src);
  copyIpv4Address(frame, at + 16, out.dst);
  const fragmentOffset = readU16(frame, at + 6) & 0x1fff;
  if (fragmentOffset !== 0) return null;
  if (out.protocol === PROTO_IPIP || out.protocol === PROTO_IPV6 || out.protocol === PROTO_GRE) {
    decodeTunnel(frame, at + headerLength, Math.min(at + totalLength, end), out.protocol, out);
  }
  return decodeTransport(frame, at + headerLength, at + totalLength, end, out);
}

function decodeIpv6(frame: Uint8Array, at: number, end: number, out: DecodedPacket): SkipReason | null {
  if (end - at < 40) return 'truncated';
  if (frame[at] >> 4 !== 6) return 'malformed';
  const payloadLength = readU16(frame, at + 4);
  out.ipVersion = 6;
  out.bytes = 40 + payloadLength;
  copyIpv6Address(frame, at + 8, out.src);
  copyIpv6Address(frame, at + 24, out.dst);
  // Payload length 0 means a jumbogram or a segmentation-offloaded packet:
  // the real end is unknown, so only the capture bounds it.
  const ipEnd = payloadLength === 0 ? end : at + 40 + payloadLength;
  let next = frame[at + 6];
  let header = at + 40;
  for (;;) {
    switch (next) {
      case PROTO_HOPOPTS:
      case PROTO_ROUTING:
      case PROTO_DSTOPTS:
      case PROTO_MOBILITY:
      case PROTO_AH: {
        const problem = lacking(header, 2, ipEnd, end);
        if (problem) return problem;
        // AH counts 4-byte words minus 2; the others 8-byte units minus 1.
        const length = next === PROTO_AH ? (frame[header + 1] + 2) * 4 : (frame[header + 1] + 1) * 8;
        const overrun = lacking(header, length, ipEnd, end);
        if (overrun) return overrun;
        next = frame[header];
        header += length;
        break;
      }
      case PROTO_FRAGMENT: {
        const problem = lacking(header, 8, ipEnd, end);
        if (problem) return problem;
        next = frame[header];
        const fragmentOffset = readU16(frame, header + 2) >> 3;
        header += 8;
        if (fragmentOffset !== 0) {
          out.protocol = next;
          return null;
        }
        break;
      }
      default:
        // Transport, or a header that ends the walk: 59 (no next header), 50 (ESP).
        out.protocol = next;
        if (next === PROTO_IPIP || next === PROTO_IPV6 || next === PROTO_GRE) {
          decodeTunnel(frame, header, Math.min(ipEnd, end), next, out);
        }
        return decodeTransport(frame, header, ipEnd, end, out);
    }
  }
}

/**
 * The innermost addresses of a tunnel whose payload (of IP protocol `protocol`: IPv4-in-IP, IPv6-in-IP
 * or GRE carrying IPv4 or IPv6) starts at `at`, into out.pkt*. A tunnel is followed while its inner
 * header is there in full; the addresses are those of the deepest one read (none: pktIpVersion stays
 * 0), so a short capture or odd inner packet never costs the outer one. An inner IPv6 packet's
 * extension headers are not walked: a tunnel behind them is not followed.
 */
function decodeTunnel(frame: Uint8Array, at: number, end: number, protocol: number, out: DecodedPacket): void {
  for (let depth = 0; depth < MAX_TUNNEL_DEPTH; depth++) {
    if (protocol === PROTO_GRE) {
      // RFC 2784/2890: flags and version, protocol type, then checksum+reserved (C), key (K), sequence (S).
      if (end - at < 4) return;
      const flags = frame[at];
      // Version 1 is PPTP's enhanced GRE, carrying PPP; RFC 1701's source routing (R) is long gone.
      if ((frame[at + 1] & 0x07) !== 0 || flags & 0x40) return;
      const etherType = readU16(frame, at + 2);
      at += 4 + (flags & 0x80 ? 4 : 0) + (flags & 0x20 ? 4 : 0) + (flags & 0x10 ? 4 : 0);
      if (etherType === ETHERTYPE_IPV4) protocol = PROTO_IPIP;
      else if (etherType === ETHERTYPE_IPV6) protocol = PROTO_IPV6;
      else return;
    }
    let next: number;
    if (protocol === PROTO_IPIP) {
      if (end - at < 20 || frame[at] >> 4 !== 4) return;
      const headerLength = (frame[at] & 0x0f) * 4;
      if (headerLength < 20) return;
      out.pktIpVersion = 4;
      copyIpv4Address(frame, at + 12, out.pktSrc);
      copyIpv4Address(frame, at + 16, out.pktDst);
      if ((readU16(frame, at + 6) & 0x1fff) !== 0) return; // a non-first fragment carries no inner header
      next = frame[at + 9];
      at += headerLength;
    } else if (protocol === PROTO_IPV6) {
      if (end - at < 40 || frame[at] >> 4 !== 6) return;
      out.pktIpVersion = 6;
      copyIpv6Address(frame, at + 8, out.pktSrc);
      copyIpv6Address(frame, at + 24, out.pktDst);
      next = frame[at + 6];
      at += 40;
    } else {
      return;
    }
    if (next !== PROTO_IPIP && next !== PROTO_IPV6 && next !== PROTO_GRE) return;
    protocol = next;
  }
}

function decodeTransport(
  frame: Uint8Array,
  at: number,
  ipEnd: number,
  end: number,
  out: DecodedPacket,
): SkipReason | null {
  const protocol = out.protocol;
  if (protocol === PROTO_TCP) {
    const problem = lacking(at, TCP_BYTES_THROUGH_FLAGS, ipEnd, end);
    if (problem) return problem;
    out.tcpFlags = frame[at + 13];
  } else if (protocol === PROTO_UDP || protocol === PROTO_SCTP || protocol === PROTO_UDPLITE) {
    const problem = lacking(at, PORTS_BYTES, ipEnd, end);
    if (problem) return problem;
  } else {
    return null;
  }
  out.srcPort = readU16(frame, at);
  out.dstPort = readU16(frame, at + 2);
  return null;
}

/**
 * Copies an IPv4 address and zeroes the rest of the 16-byte slot, so IPv4 keys compare and hash
 * alike. Plain stores: a fill() call costs more than the twelve zero bytes it writes.
 */
function copyIpv4Address(frame: Uint8Array, at: number, target: Uint8Array): void {
  target[0] = frame[at];
  target[1] = frame[at + 1];
  target[2] = frame[at + 2];
  target[3] = frame[at + 3];
  target[4] = 0;
  target[5] = 0;
  target[6] = 0;
  target[7] = 0;
  target[8] = 0;
  target[9] = 0;
  target[10] = 0;
  target[11] = 0;
  target[12] = 0;
  target[13] = 0;
  target[14] = 0;
  target[15] = 0;
}

function copyIpv6Address(frame: Uint8Array, at: number, target: Uint8Array): void {
  for (let i = 0; i < 16; i++) target[i] = frame[at + i];
}

/**
 * Dotted quad for IPv4; RFC 5952 text for IPv6 (lowercase, longest run of two
 * or more zero groups compressed, leftmost on a tie, `::ffff:a.b.c.d` for
 * IPv4-mapped), which is what Postgres inet and tshark print.
 */
export function formatIp(addr: Uint8Array, version: 4 | 6): string {
  if (version === 4) return `${addr[0]}.${addr[1]}.${addr[2]}.${addr[3]}`;
  if (isV4Mapped(addr)) return `::ffff:${addr[12]}.${addr[13]}.${addr[14]}.${addr[15]}`;
  let bestStart = -1;
  let bestLength = 1; // a single zero group is not compressed
  for (let group = 0; group < 8; ) {
    if (readU16(addr, group * 2) !== 0) {
      group++;
      continue;
    }
    const start = group;
    while (group < 8 && readU16(addr, group * 2) === 0) group++;
    if (group - start > bestLength) {
      bestStart = start;
      bestLength = group - start;
    }
  }
  const hex = (group: number): string => readU16(addr, group * 2).toString(16);
  if (bestStart < 0) return [0, 1, 2, 3, 4, 5, 6, 7].map(hex).join(':');
  const head: string[] = [];
  const tail: string[] = [];
  for (let group = 0; group < bestStart; group++) head.push(hex(group));
  for (let group = bestStart + bestLength; group < 8; group++) tail.push(hex(group));
  return `${head.join(':')}::${tail.join(':')}`;
}

function isV4Mapped(addr: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (addr[i] !== 0) return false;
  return addr[10] === 0xff && addr[11] === 0xff;
}

/**
 * Parses an IPv4 dotted quad (no leading zeros, which some parsers read as
 * octal) or IPv6 text (`::` compression, embedded dotted quad). Zone ids and
 * prefixes are rejected. Returns 16 bytes for IPv6 and 4 for IPv4.
 */
export function parseIp(text: string): { version: 4 | 6; bytes: Uint8Array } | undefined {
  if (text.includes(':')) {
    const bytes = parseIpv6(text);
    return bytes && { version: 6, bytes };
  }
  const bytes = parseIpv4(text);
  return bytes && { version: 4, bytes };
}

const DECIMAL_OCTET = /^(0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!DECIMAL_OCTET.test(parts[i])) return undefined;
    const value = Number(parts[i]);
    if (value > 255) return undefined;
    bytes[i] = value;
  }
  return bytes;
}

function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const compressed = halves.length === 2;
  // An embedded dotted quad may only be the last 32 bits.
  const head = parseGroups(halves[0], !compressed);
  const tail = compressed ? parseGroups(halves[1], true) : [];
  if (!head || !tail) return undefined;
  const groups = head.length + tail.length;
  if (compressed ? groups > 7 : groups !== 8) return undefined;
  const bytes = new Uint8Array(16);
  head.forEach((group, i) => writeGroup(bytes, i, group));
  tail.forEach((group, i) => writeGroup(bytes, 8 - tail.length + i, group));
  return bytes;
}

/** Colon-separated hex groups; a trailing dotted quad counts as two groups. */
function parseGroups(text: string, mayEndInDottedQuad: boolean): number[] | undefined {
  if (text === '') return [];
  const parts = text.split(':');
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (mayEndInDottedQuad && i === parts.length - 1 && part.includes('.')) {
      const v4 = parseIpv4(part);
      if (!v4) return undefined;
      groups.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    } else if (HEX_GROUP.test(part)) {
      groups.push(parseInt(part, 16));
    } else {
      return undefined;
    }
  }
  return groups;
}

function writeGroup(bytes: Uint8Array, index: number, group: number): void {
  bytes[index * 2] = group >> 8;
  bytes[index * 2 + 1] = group & 0xff;
}
