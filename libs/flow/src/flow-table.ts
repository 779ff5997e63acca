/**
 * The flows of open windows as a struct of typed arrays, one slot a flow, with its own hash index:
 * a flow costs about 90 bytes (plus the room the arrays keep to grow) instead of a JavaScript object
 * of two dozen fields, a Map entry and an array slot. Keys stay numbers (addresses as 32-bit words);
 * strings are made only when a record is built (read). Pure; the caller (FlowWindows) keeps, per
 * window, its first and last slot and links the window's flows in the order they began.
 */
import type { PacketEvent } from '@flowlogs/contracts';
import { formatIp } from '@flowlogs/packet';

/** What read() gives of a flow: the fields of its record. One object, reused by the caller. */
export interface FlowView {
  ipVersion: 4 | 6;
  srcaddr: string;
  dstaddr: string;
  srcPort: number;
  dstPort: number;
  protocol: number;
  action: 'ACCEPT' | 'REJECT';
  direction: 'ingress' | 'egress' | undefined;
  packets: number;
  bytes: number;
  first: number;
  last: number;
  tcpFlags: number;
  /** The first packet's innermost addresses when it was tunnelled (they are not in the flow key). */
  pktSrcaddr: string | undefined;
  pktDstaddr: string | undefined;
}

export const newFlowView = (): FlowView => ({
  ipVersion: 4,
  srcaddr: '',
  dstaddr: '',
  srcPort: 0,
  dstPort: 0,
  protocol: 0,
  action: 'ACCEPT',
  direction: undefined,
  packets: 0,
  bytes: 0,
  first: 0,
  last: 0,
  tcpFlags: 0,
  pktSrcaddr: undefined,
  pktDstaddr: undefined,
});

const NONE = -1;
const INITIAL_SLOTS = 1024;
/** meta: protocol (8 bits), REJECT (bit 8), IPv6 (bit 9) — the key's part — and the direction (bits 10–11). */
const KEY_META = 0x3ff;
const REJECT_BIT = 1 << 8;
const V6_BIT = 1 << 9;
const DIRECTION_SHIFT = 10;
const DIRECTIONS = [undefined, 'ingress', 'egress'] as const;

const word = (a: Uint8Array, i: number): number => (a[i] << 24) | (a[i + 1] << 16) | (a[i + 2] << 8) | a[i + 3];

function mix(h: number, k: number): number {
  h = Math.imul(h ^ k, 0x85ebca6b);
  return h ^ (h >>> 13);
}

export class FlowTable {
  private slots = 0;
  /** Source then destination address, 4 words each, big-endian; IPv4 uses the first word of each. */
  private addr = new Int32Array(0);
  /** srcPort << 16 | dstPort. */
  private ports = new Uint32Array(0);
  private meta = new Uint16Array(0);
  private tcpFlags = new Uint16Array(0);
  private packets = new Float64Array(0);
  private bytes = new Float64Array(0);
  private first = new Float64Array(0);
  private last = new Float64Array(0);
  private hashes = new Int32Array(0);
  /** The window a slot belongs to (its number), NONE when the slot is free. */
  private owner = new Int32Array(0);
  /** The next slot of the same bucket; of a free slot, the next free one. */
  private chain = new Int32Array(0);
  /** The next flow of the same window, in the order they began. */
  private order = new Int32Array(0);
  /** The first slot of each bucket (a power of two of them, at least as many as slots). */
  private buckets = new Int32Array(0);
  /** Slots ever used (free ones below it are on the free list). */
  private used = 0;
  private freeHead = NONE;
  private flows = 0;
  /** Inner addresses of tunnelled flows: few, so kept aside. */
  private readonly inner = new Map<number, [string, string]>();
  /** The key of the packet last looked up: insert() takes it from here. */
  private kHash = 0;
  private kMeta = 0;
  private kPorts = 0;
  private readonly kAddr = new Int32Array(8);

  get size(): number {
    return this.flows;
  }

  /**
   * Counts the packet into its flow of window `win` and returns true, or returns false when the
   * window has no such flow yet (then insert() makes it from the same packet, next).
   */
  addPacket(win: number, p: PacketEvent): boolean {
    const v6 = p.ipVersion === 6;
    const src = p.src;
    const dst = p.dst;
    const k = this.kAddr;
    k[0] = word(src, 0);
    k[4] = word(dst, 0);
    const ports = ((p.srcPort << 16) | p.dstPort) >>> 0;
    const meta = p.protocol | (p.action === 'REJECT' ? REJECT_BIT : 0) | (v6 ? V6_BIT : 0);
    let h = mix(mix(mix(mix(win, k[0]), k[4]), ports), meta);
    if (v6) {
      for (let i = 1; i < 4; i++) {
        k[i] = word(src, i * 4);
        k[4 + i] = word(dst, i * 4);
        h = mix(mix(h, k[i]), k[4 + i]);
      }
    }
    this.kHash = h;
    this.kMeta = meta;
    this.kPorts = ports;
    if (!this.slots) return false;
    const addr = this.addr;
    for (let s = this.buckets[h & (this.buckets.length - 1)]; s !== NONE; s = this.chain[s]) {
      const a = s * 8;
      if (
        this.hashes[s] !== h ||
        this.owner[s] !== win ||
        addr[a] !== k[0] ||
        addr[a + 4] !== k[4] ||
        this.ports[s] !== ports ||
        (this.meta[s] & KEY_META) !== meta
      )
        continue;
      if (
        v6 &&
        (addr[a + 1] !== k[1] ||
          addr[a + 2] !== k[2] ||
          addr[a + 3] !== k[3] ||
          addr[a + 5] !== k[5] ||
          addr[a + 6] !== k[6] ||
          addr[a + 7] !== k[7])
      )
        continue;
      this.packets[s]++;
      this.bytes[s] += p.bytes;
      if (p.ts < this.first[s]) this.first[s] = p.ts;
      if (p.ts > this.last[s]) this.last[s] = p.ts;
      this.tcpFlags[s] |= p.tcpFlags;
      return true;
    }
    return false;
  }

  /** A new flow of window `win` from the packet addPacket() just did not find; linked after `prev` in its window. */
  insert(win: number, p: PacketEvent, prev: number): number {
    let s = this.freeHead;
    if (s !== NONE) this.freeHead = this.chain[s];
    else {
      if (this.used === this.slots) this.grow();
      s = this.used++;
    }
    const v6 = (this.kMeta & V6_BIT) !== 0;
    const a = s * 8;
    for (let i = 0; i < 8; i++) this.addr[a + i] = v6 || i % 4 === 0 ? this.kAddr[i] : 0;
    this.ports[s] = this.kPorts;
    const direction = p.direction === 'ingress' ? 1 : p.direction === 'egress' ? 2 : 0;
    this.meta[s] = this.kMeta | (direction << DIRECTION_SHIFT);
    this.tcpFlags[s] = p.tcpFlags;
    this.packets[s] = 1;
    this.bytes[s] = p.bytes;
    this.first[s] = p.ts;
    this.last[s] = p.ts;
    this.hashes[s] = this.kHash;
    this.owner[s] = win;
    const b = this.kHash & (this.buckets.length - 1);
    this.chain[s] = this.buckets[b];
    this.buckets[b] = s;
    this.order[s] = NONE;
    if (prev !== NONE) this.order[prev] = s;
    if (p.pktIpVersion) this.inner.set(s, [formatIp(p.pktSrc, p.pktIpVersion), formatIp(p.pktDst, p.pktIpVersion)]);
    this.flows++;
    return s;
  }

  /** The flow after `slot` in its window, or -1. */
  next(slot: number): number {
    return this.order[slot];
  }

  /** Fills `out` with the flow's fields, its addresses as strings. */
  read(slot: number, out: FlowView): FlowView {
    const meta = this.meta[slot];
    const v6 = (meta & V6_BIT) !== 0;
    out.ipVersion = v6 ? 6 : 4;
    out.srcaddr = this.address(slot * 8, v6);
    out.dstaddr = this.address(slot * 8 + 4, v6);
    const ports = this.ports[slot];
    out.srcPort = ports >>> 16;
    out.dstPort = ports & 0xffff;
    out.protocol = meta & 0xff;
    out.action = meta & REJECT_BIT ? 'REJECT' : 'ACCEPT';
    out.direction = DIRECTIONS[(meta >>> DIRECTION_SHIFT) & 3];
    out.packets = this.packets[slot];
    out.bytes = this.bytes[slot];
    out.first = this.first[slot];
    out.last = this.last[slot];
    out.tcpFlags = this.tcpFlags[slot];
    const inner = this.inner.get(slot);
    out.pktSrcaddr = inner?.[0];
    out.pktDstaddr = inner?.[1];
    return out;
  }

  /** Frees a flow's slot (its window was emitted). */
  free(slot: number): void {
    const b = this.hashes[slot] & (this.buckets.length - 1);
    if (this.buckets[b] === slot) this.buckets[b] = this.chain[slot];
    else {
      let s = this.buckets[b];
      while (this.chain[s] !== slot) s = this.chain[s];
      this.chain[s] = this.chain[slot];
    }
    this.owner[slot] = NONE;
    this.chain[slot] = this.freeHead;
    this.freeHead = slot;
    if (this.inner.size) this.inner.delete(slot);
    this.flows--;
  }

  private address(a: number, v6: boolean): string {
    const w = this.addr;
    if (!v6) return `${w[a] >>> 24}.${(w[a] >>> 16) & 255}.${(w[a] >>> 8) & 255}.${w[a] & 255}`;
    for (let i = 0; i < 4; i++) scratchView.setInt32(i * 4, w[a + i]);
    return formatIp(scratch, 6);
  }

  /** Twice the slots (the arrays copied), and the buckets rebuilt for them. */
  private grow(): void {
    const slots = Math.max(INITIAL_SLOTS, this.slots * 2);
    const more = <T extends Int32Array | Uint32Array | Uint16Array | Float64Array>(a: T, n: number): T => {
      const b = new (a.constructor as new (n: number) => T)(n);
      b.set(a);
      return b;
    };
    this.addr = more(this.addr, slots * 8);
    this.ports = more(this.ports, slots);
    this.meta = more(this.meta, slots);
    this.tcpFlags = more(this.tcpFlags, slots);
    this.packets = more(this.packets, slots);
    this.bytes = more(this.bytes, slots);
    this.first = more(this.first, slots);
    this.last = more(this.last, slots);
    this.hashes = more(this.hashes, slots);
    this.owner = more(this.owner, slots);
    this.chain = more(this.chain, slots);
    this.order = more(this.order, slots);
    this.slots = slots;
    this.buckets = new Int32Array(slots).fill(NONE);
    const mask = slots - 1;
    for (let s = 0; s < this.used; s++) {
      if (this.owner[s] === NONE) continue;
      const b = this.hashes[s] & mask;
      this.chain[s] = this.buckets[b];
      this.buckets[b] = s;
    }
  }
}

/** An IPv6 address's words back in bytes, for formatIp. */
const scratch = new Uint8Array(16);
const scratchView = new DataView(scratch.buffer);
