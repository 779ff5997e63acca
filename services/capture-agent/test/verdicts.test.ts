import { describe, expect, it } from 'vitest';
import { copyPacketEvent, newPacketEvent, type PacketEvent } from '@flowlogs/contracts';
import { fingerprint, VerdictMatcher } from '../src/verdicts.js';

const A = [10, 16, 0, 22];
const B = [10, 16, 0, 40];

/** A packet from `src` to `dst`; B is the ENI, so packets to it are ingress. */
function packet(o: {
  ts: number;
  src: number[];
  dst: number[];
  protocol?: number;
  dport?: number;
  sport?: number;
  bytes?: number;
  flags?: number;
  action?: 'ACCEPT' | 'REJECT';
}): PacketEvent {
  const e = newPacketEvent();
  e.ts = o.ts;
  e.src.set(o.src);
  e.dst.set(o.dst);
  e.protocol = o.protocol ?? 6;
  e.srcPort = o.sport ?? 40000;
  e.dstPort = o.dport ?? 22;
  e.bytes = o.bytes ?? 60;
  e.tcpFlags = o.flags ?? 2;
  e.action = o.action ?? 'ACCEPT';
  e.direction = o.dst === B ? 'ingress' : 'egress';
  return e;
}

function matcher(holdMs = 1000) {
  const out: Array<{ ts: number; action: string; dport: number; direction: string | undefined }> = [];
  const m = new VerdictMatcher(holdMs, (e) =>
    out.push({ ts: e.ts, action: e.action, dport: e.dstPort, direction: e.direction }),
  );
  return { m, out };
}

describe('verdict matcher', () => {
  it("keeps every field of what it holds, a tunnelled packet's inner addresses included", () => {
    const out: PacketEvent[] = [];
    const m = new VerdictMatcher(1000, (e) => out.push(copyPacketEvent(e)));
    const gre = packet({ ts: 100.1, src: A, dst: B, protocol: 47, sport: 0, dport: 0 });
    gre.pktIpVersion = 4;
    gre.pktSrc.set([192, 168, 50, 1]);
    gre.pktDst.set([192, 168, 60, 2]);
    m.addLive(gre, 0);
    gre.pktSrc.fill(0); // the caller's event is reused for the next packet
    m.release(1100);
    expect(out).toHaveLength(1);
    expect(out[0]).toEqual({ ...gre, pktSrc: Uint8Array.from([192, 168, 50, 1, ...Array(12).fill(0)]) });
  });

  it('counts an ingress packet the firewall dropped once, as REJECT at the interface time, whichever comes first', () => {
    const { m, out } = matcher();
    // Live first, then the drop verdict (the usual order on ingress: libpcap sees it before netfilter).
    m.addLive(packet({ ts: 100.1, src: A, dst: B }), 0);
    m.addVerdict(packet({ ts: 100.9, src: A, dst: B, action: 'REJECT' }), 800);
    // The drop verdict first (NFLOG's batch came before the interface's), then the live copy.
    m.addVerdict(packet({ ts: 101.9, src: A, dst: B, sport: 40001, action: 'REJECT' }), 900);
    m.addLive(packet({ ts: 101.2, src: A, dst: B, sport: 40001 }), 1200);
    m.release(999);
    expect(out).toEqual([]); // nothing leaves before its hold is over, matched or not
    m.release(2200);
    expect(out).toEqual([
      { ts: 100.1, action: 'REJECT', dport: 22, direction: 'ingress' },
      { ts: 101.2, action: 'REJECT', dport: 22, direction: 'ingress' },
    ]);
    expect(m.counts).toEqual({ accepted: 0, matched: 2, unmatched: 0, ignored: 0 });
    expect(m.held).toBe(0);
  });

  it('passes live packets no verdict names as ACCEPT, after the hold, in the order they came', () => {
    const { m, out } = matcher(500);
    m.addLive(packet({ ts: 1, src: A, dst: B, protocol: 1, dport: 0, sport: 0, bytes: 84 }), 0);
    m.addLive(packet({ ts: 1.1, src: B, dst: A, protocol: 1, dport: 0, sport: 0, bytes: 84 }), 100);
    m.release(499);
    expect(out).toHaveLength(0);
    m.release(500);
    expect(out).toEqual([{ ts: 1, action: 'ACCEPT', dport: 0, direction: 'ingress' }]);
    m.release(600);
    expect(out.map((o) => o.direction)).toEqual(['ingress', 'egress']);
    expect(m.counts.accepted).toBe(2);
  });

  it('counts an egress drop (never on the wire) as REJECT on its own, without taking an accepted packet alike', () => {
    const { m, out } = matcher();
    // B sends the same SYN twice; the first went out (a rule changed since), the second was dropped in output.
    m.addLive(packet({ ts: 5, src: B, dst: A, dport: 23 }), 0);
    m.addVerdict(packet({ ts: 5.5, src: B, dst: A, dport: 23, action: 'REJECT' }), 10);
    m.drain();
    expect(out.map((o) => o.action)).toEqual(['ACCEPT', 'REJECT']);
    expect(m.counts).toEqual({ accepted: 1, matched: 0, unmatched: 1, ignored: 0 });
  });

  it('ignores the verdicts of accepting rules: the live copy counts those packets', () => {
    const { m, out } = matcher();
    m.addVerdict(packet({ ts: 1, src: A, dst: B, dport: 80, action: 'ACCEPT' }), 0);
    m.addLive(packet({ ts: 1, src: A, dst: B, dport: 80 }), 0);
    m.drain();
    expect(out).toEqual([{ ts: 1, action: 'ACCEPT', dport: 80, direction: 'ingress' }]);
    expect(m.counts).toEqual({ accepted: 1, matched: 0, unmatched: 0, ignored: 1 });
  });

  it('a drop verdict whose live copy never comes (lost by the kernel) is still one REJECT', () => {
    const { m, out } = matcher(100);
    m.addVerdict(packet({ ts: 3, src: A, dst: B, action: 'REJECT' }), 0);
    m.release(100);
    expect(out).toEqual([{ ts: 3, action: 'REJECT', dport: 22, direction: 'ingress' }]);
    expect(m.counts.unmatched).toBe(1);
  });

  it('matches alike packets one to one: three retransmitted SYNs, two dropped, leave two REJECT and one ACCEPT', () => {
    const { m, out } = matcher();
    for (const [i, at] of [0, 10, 20].entries()) m.addLive(packet({ ts: 7 + i, src: A, dst: B }), at);
    m.addVerdict(packet({ ts: 8, src: A, dst: B, action: 'REJECT' }), 30);
    m.addVerdict(packet({ ts: 9, src: A, dst: B, action: 'REJECT' }), 40);
    m.drain();
    expect(out.map((o) => o.action)).toEqual(['REJECT', 'REJECT', 'ACCEPT']);
    expect(m.counts).toEqual({ accepted: 1, matched: 2, unmatched: 0, ignored: 0 });
  });

  it('fingerprints what a record counts: a different port, length or TCP flags is another packet', () => {
    const base = fingerprint(packet({ ts: 1, src: A, dst: B }));
    expect(fingerprint(packet({ ts: 2, src: A, dst: B }))).toBe(base);
    for (const other of [{ dport: 23 }, { sport: 1 }, { bytes: 61 }, { flags: 18 }, { protocol: 17 }]) {
      expect(fingerprint(packet({ ts: 1, src: A, dst: B, ...other }))).not.toBe(base);
    }
    expect(fingerprint(packet({ ts: 1, src: B, dst: A }))).not.toBe(base);
    const v6 = packet({ ts: 1, src: A, dst: B });
    v6.ipVersion = 6;
    v6.src[15] = 1;
    expect(fingerprint(v6)).toMatch(/^6 0a100016000000000000000000000001 /);
  });
});
