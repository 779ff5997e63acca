/**
 * One ENI, one truth: a live interface's packets with the verdicts of the host's own firewall. Pure.
 *
 * libpcap sees an ingress packet before netfilter and an egress packet after it, so the interface
 * shows every packet the firewall dropped on the way in (as if accepted) and none it dropped on the
 * way out. nftables rules that drop with `log … group N` copy each dropped packet to NFLOG. Both
 * streams come in here and are held for `holdMs` (each reaches the agent in the kernel's batches,
 * either may come first). A drop verdict and a live packet with the same fingerprint are one packet:
 * counted once, REJECT, at the live packet's time. A live packet no drop names is ACCEPT; a drop
 * verdict no live packet matches (an egress drop: it never reached the wire) is REJECT on its own.
 *
 * The fingerprint is what a flow record counts of a packet: addresses, protocol, ports, IP length,
 * TCP flags. Two held packets alike in all of these add the same to the same records whichever one
 * a verdict takes, so matching either is exact.
 */
import { copyPacketEvent, type PacketEvent } from '@flowlogs/contracts';

interface Held {
  /** The packet as it will be passed on (its action settled when it leaves unmatched). */
  event: PacketEvent;
  /** When it was held (ms): it leaves at this plus holdMs, matched or not. */
  at: number;
  /** A live packet, or a drop verdict. */
  live: boolean;
  /** Its fingerprint while it waits for a match; undefined once matched (or when none can come). */
  waiting: string | undefined;
}

export interface VerdictCounts {
  /** Live packets that no drop verdict named: ACCEPT. */
  accepted: number;
  /** Live packets a drop verdict named: REJECT, counted once. */
  matched: number;
  /** Drop verdicts without a live packet (egress drops): REJECT. */
  unmatched: number;
  /** Verdicts of accepting rules (a prefix without drop/reject/deny): the live packet counts them. */
  ignored: number;
}

const addr = (a: Uint8Array, v6: boolean) =>
  v6 ? Buffer.from(a.buffer, a.byteOffset, 16).toString('hex') : `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;

/** The fingerprint of a packet: every field a flow record counts, nothing else. */
export function fingerprint(e: PacketEvent): string {
  const v6 = e.ipVersion === 6;
  return `${e.protocol} ${addr(e.src, v6)} ${addr(e.dst, v6)} ${e.srcPort} ${e.dstPort} ${e.bytes} ${e.tcpFlags}`;
}

export class VerdictMatcher {
  readonly counts: VerdictCounts = { accepted: 0, matched: 0, unmatched: 0, ignored: 0 };
  /** Everything held, in the order it came (which is also the order it leaves). */
  private readonly queue: Held[] = [];
  private head = 0;
  /** Held and not matched, by fingerprint, oldest first: live packets, and drop verdicts. */
  private readonly live = new Map<string, Held[]>();
  private readonly drops = new Map<string, Held[]>();

  /**
   * `emit` receives each packet, settled, holdMs after it came (matched or not, so that what leaves
   * is in the order it came and never ahead of the clock less holdMs). The event is the caller's
   * only during the call.
   */
  constructor(
    private readonly holdMs: number,
    private readonly emit: (e: PacketEvent) => void,
  ) {}

  /** How many packets are held. */
  get held(): number {
    return this.queue.length - this.head;
  }

  /** A packet seen on the interface: ACCEPT unless a drop verdict names it. */
  addLive(e: PacketEvent, now: number): void {
    const key = fingerprint(e);
    const drop = this.take(this.drops, key);
    if (drop) {
      // The verdict came first: it is this packet, at the interface's time for it.
      drop.event = copyPacketEvent(e);
      drop.event.action = 'REJECT';
      this.counts.matched++;
      return;
    }
    const held = this.hold(e, now, true, key);
    held.event.action = 'ACCEPT';
  }

  /** A packet an nftables rule logged to one of the ENI's NFLOG groups, with that rule's verdict in `action`. */
  addVerdict(e: PacketEvent, now: number): void {
    if (e.action !== 'REJECT') {
      this.counts.ignored++;
      return;
    }
    // Dropped on its way out: it never reached the wire, so no live copy will come.
    if (e.direction === 'egress') {
      this.counts.unmatched++;
      this.hold(e, now, false, undefined);
      return;
    }
    const key = fingerprint(e);
    const live = this.take(this.live, key);
    if (live) {
      live.event.action = 'REJECT';
      this.counts.matched++;
      return;
    }
    this.hold(e, now, false, key);
  }

  /** Passes on what has been held for holdMs. */
  release(now: number): void {
    this.settle((h) => now - h.at >= this.holdMs);
  }

  /** Passes on everything held (the source ended). */
  drain(): void {
    this.settle(() => true);
  }

  private settle(due: (h: Held) => boolean): void {
    const q = this.queue;
    while (this.head < q.length && due(q[this.head])) {
      const h = q[this.head++];
      if (h.waiting !== undefined) {
        // Unmatched: the oldest of its fingerprint, as both go in the order they came.
        const map = h.live ? this.live : this.drops;
        const list = map.get(h.waiting)!;
        list.shift();
        if (!list.length) map.delete(h.waiting);
        if (h.live) this.counts.accepted++;
        else this.counts.unmatched++;
      }
      this.emit(h.event);
    }
    if (this.head > 1024 && this.head * 2 > q.length) {
      q.splice(0, this.head);
      this.head = 0;
    }
  }

  private hold(e: PacketEvent, now: number, live: boolean, key: string | undefined): Held {
    const held: Held = { event: copyPacketEvent(e), at: now, live, waiting: key };
    if (key !== undefined) {
      const map = live ? this.live : this.drops;
      const list = map.get(key);
      if (list) list.push(held);
      else map.set(key, [held]);
    }
    this.queue.push(held);
    return held;
  }

  /** The oldest unmatched entry of this fingerprint in `map`, matched now. */
  private take(map: Map<string, Held[]>, key: string): Held | undefined {
    const list = map.get(key);
    if (!list) return undefined;
    const held = list.shift()!;
    if (!list.length) map.delete(key);
    held.waiting = undefined;
    return held;
  }
}
