import { describe, it, expect } from 'vitest';
import { createWriteStream, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import {
  CaptureFormatError,
  CaptureParser,
  LinkType,
  PcapWriter,
  buildEthernetFrame,
  buildIpPacket,
  readCaptureFile,
  writePcap,
  writePcapng,
  type CaptureRecord,
} from '../src/index.js';

const frames = [
  buildEthernetFrame(
    buildIpPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 'tcp', srcPort: 1, dstPort: 2, payloadLength: 3 }),
  ),
  buildEthernetFrame(
    buildIpPacket({
      src: '2001:db8::1',
      dst: '2001:db8::2',
      protocol: 'udp',
      srcPort: 3,
      dstPort: 4,
      payloadLength: 9,
    }),
  ),
  buildEthernetFrame(buildIpPacket({ src: '10.0.0.3', dst: '10.0.0.4', protocol: 'icmp', payloadLength: 1000 }), {
    vlan: [7],
  }),
];
const inputs = frames.map((frame, i) => ({ tsSec: 1_700_000_000 + i, tsNanos: (123_456_789 * (i + 1)) % 1e9, frame }));

/** Copies each record, since frames are only valid until the next one is requested. */
function parseChunks(chunks: Buffer[]): { records: CaptureRecord[]; format: string | undefined } {
  const parser = new CaptureParser();
  const records: CaptureRecord[] = [];
  for (const chunk of chunks) {
    parser.push(chunk);
    for (let record = parser.next(); record; record = parser.next())
      records.push({ ...record, frame: Buffer.from(record.frame) });
  }
  parser.end();
  return { records, format: parser.format };
}

const parse = (file: Buffer) => parseChunks([file]);

/** Records as plain tuples: deep equality on Buffers is slow in the many-cut tests. */
function summary(records: CaptureRecord[]): string[] {
  return records.map(
    (r) => `${r.linkType} ${r.tsSec}.${r.tsNanos} ${r.caplen}/${r.wireLen} ${r.frame.toString('hex')}`,
  );
}

function oneByteChunks(file: Buffer): Buffer[] {
  return [...file].map((byte) => Buffer.from([byte]));
}

function expectInputs(records: CaptureRecord[], nanos: boolean, linkType: number = LinkType.ETHERNET) {
  expect(records.map((r) => r.frame)).toEqual(frames);
  expect(records.map((r) => [r.linkType, r.tsSec, r.tsNanos, r.caplen, r.wireLen])).toEqual(
    inputs.map((input) => [
      linkType,
      input.tsSec,
      nanos ? input.tsNanos : Math.floor(input.tsNanos / 1000) * 1000,
      input.frame.length,
      input.frame.length,
    ]),
  );
}

/** A big-endian pcap (microseconds unless `nanos`), written field by field. */
function bigEndianPcap(linkType: number, nanos = false): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32BE(nanos ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  header.writeUInt16BE(2, 4);
  header.writeUInt16BE(4, 6);
  header.writeUInt32BE(65535, 16);
  header.writeUInt32BE(linkType, 20);
  const records = inputs.map((input) => {
    const record = Buffer.alloc(16);
    record.writeUInt32BE(input.tsSec, 0);
    record.writeUInt32BE(nanos ? input.tsNanos : Math.floor(input.tsNanos / 1000), 4);
    record.writeUInt32BE(input.frame.length, 8);
    record.writeUInt32BE(input.frame.length, 12);
    return Buffer.concat([record, input.frame]);
  });
  return Buffer.concat([header, ...records]);
}

/** pcapng block in either byte order; `body` already in that order. */
function block(type: number, body: Buffer, littleEndian: boolean): Buffer {
  const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
  const length = 12 + padded.length;
  const head = Buffer.alloc(8);
  const tail = Buffer.alloc(4);
  if (littleEndian) {
    head.writeUInt32LE(type, 0);
    head.writeUInt32LE(length, 4);
    tail.writeUInt32LE(length, 0);
  } else {
    head.writeUInt32BE(type, 0);
    head.writeUInt32BE(length, 4);
    tail.writeUInt32BE(length, 0);
  }
  return Buffer.concat([head, padded, tail]);
}

/** Writes numbers of the given widths in one byte order. */
function fields(littleEndian: boolean, ...values: Array<[2 | 4, number]>): Buffer {
  const buf = Buffer.alloc(values.reduce((n, [width]) => n + width, 0));
  let at = 0;
  for (const [width, value] of values) {
    if (width === 2) littleEndian ? buf.writeUInt16LE(value, at) : buf.writeUInt16BE(value, at);
    else littleEndian ? buf.writeUInt32LE(value, at) : buf.writeUInt32BE(value, at);
    at += width;
  }
  return buf;
}

function sectionHeader(littleEndian: boolean): Buffer {
  return block(
    0x0a0d0d0a,
    Buffer.concat([fields(littleEndian, [4, 0x1a2b3c4d], [2, 1], [2, 0]), Buffer.alloc(8, 0xff)]),
    littleEndian,
  );
}

function interfaceBlock(littleEndian: boolean, linkType: number, snaplen: number, tsresol?: number): Buffer {
  const options =
    tsresol === undefined
      ? Buffer.alloc(0)
      : Buffer.concat([fields(littleEndian, [2, 9], [2, 1]), Buffer.from([tsresol, 0, 0, 0]), Buffer.alloc(4)]);
  return block(1, Buffer.concat([fields(littleEndian, [2, linkType], [2, 0], [4, snaplen]), options]), littleEndian);
}

function enhancedPacket(
  littleEndian: boolean,
  interfaceId: number,
  ticks: bigint,
  frame: Buffer,
  wireLen = frame.length,
): Buffer {
  const header = fields(
    littleEndian,
    [4, interfaceId],
    [4, Number(ticks >> 32n)],
    [4, Number(ticks & 0xffffffffn)],
    [4, frame.length],
    [4, wireLen],
  );
  return block(6, Buffer.concat([header, frame]), littleEndian);
}

describe('pcap', () => {
  it('reads what writePcap writes, microseconds', () => {
    const { records, format } = parse(writePcap(inputs));
    expect(format).toBe('pcap');
    expectInputs(records, false);
  });

  it('reads nanosecond pcap', () => {
    expectInputs(parse(writePcap(inputs, { nanos: true })).records, true);
  });

  it('reads a big-endian pcap', () => {
    expectInputs(parse(bigEndianPcap(LinkType.ETHERNET)).records, false);
  });

  it('reads a big-endian nanosecond pcap, also from one-byte chunks', () => {
    const file = bigEndianPcap(LinkType.ETHERNET, true);
    expectInputs(parse(file).records, true);
    expectInputs(parseChunks(oneByteChunks(file)).records, true);
  });

  it('reads both byte orders alike over many records in one chunk (the in-place path)', () => {
    const many = Array.from({ length: 300 }, (_, i) => ({
      tsSec: 4_000_000_000 + i,
      tsNanos: ((i * 7919) % 1_000_000) * 1000,
      frame: frames[i % frames.length],
    }));
    const little = writePcap(many);
    // The same records big-endian: swap every header field.
    const big = Buffer.from(little);
    big.writeUInt32BE(0xa1b2c3d4, 0);
    big.writeUInt16BE(2, 4);
    big.writeUInt16BE(4, 6);
    big.writeUInt32BE(little.readUInt32LE(16), 16);
    big.writeUInt32BE(little.readUInt32LE(20), 20);
    for (let at = 24; at < little.length; at += 16 + little.readUInt32LE(at + 8)) {
      for (let field = 0; field < 16; field += 4) big.writeUInt32BE(little.readUInt32LE(at + field), at + field);
    }
    const expected = summary(parse(little).records);
    expect(expected).toHaveLength(300);
    expect(expected[299]).toMatch(/^1 4000000299\./); // above 2^31: read unsigned
    expect(summary(parse(big).records)).toEqual(expected);
    expect(summary(parseChunks([big.subarray(0, 1000), big.subarray(1000, 5000), big.subarray(5000)]).records)).toEqual(
      expected,
    );
  });

  it('hands out one record object, refilled: valid until the next is requested', () => {
    const parser = new CaptureParser();
    parser.push(writePcap(inputs, { nanos: true }));
    const first = parser.next()!;
    expect(first.tsSec).toBe(inputs[0].tsSec);
    const second = parser.next()!;
    expect(second).toBe(first);
    expect(second.tsSec).toBe(inputs[1].tsSec);
    expect(second.frame).toEqual(frames[1]);
  });

  it('frames are Buffers in every way a caller can see', () => {
    const parser = new CaptureParser();
    parser.push(writePcap(inputs));
    const { frame } = parser.next()!;
    expect(Buffer.isBuffer(frame)).toBe(true);
    expect(frame).toBeInstanceOf(Buffer);
    expect(frame.constructor).toBe(Buffer);
    expect(frame).toEqual(frames[0]);
    expect(frame.equals(frames[0])).toBe(true);
    expect(frame.toString('hex')).toBe(frames[0].toString('hex'));
    expect(frame.readUInt16BE(12)).toBe(0x0800);
    expect(inspect(frame)).toBe(inspect(frames[0]));
    expect(Buffer.isBuffer(frame.subarray(2))).toBe(true);
    expect(Buffer.concat([frame, frame])).toHaveLength(2 * frames[0].length);
    expect(JSON.stringify(frame)).toBe(JSON.stringify(frames[0]));
  });

  it('keeps the link type, snaplen cut and wire length', () => {
    const file = writePcap([{ tsSec: 1, frame: frames[2], wireLen: 5000 }], {
      linkType: LinkType.LINUX_SLL,
      snaplen: 64,
    });
    const [record] = parse(file).records;
    expect(record).toMatchObject({ linkType: LinkType.LINUX_SLL, caplen: 64, wireLen: 5000 });
    expect(record.frame).toEqual(frames[2].subarray(0, 64));
  });

  it('masks FCS bits out of the link type', () => {
    const file = writePcap(inputs);
    file.writeUInt32LE(0x14000000 | LinkType.ETHERNET, 20);
    expect(parse(file).records[0].linkType).toBe(LinkType.ETHERNET);
  });

  it('handles chunk boundaries at every offset', () => {
    for (const file of [writePcap(inputs, { nanos: true }), bigEndianPcap(LinkType.ETHERNET)]) {
      const expected = summary(parse(file).records);
      expect(summary(parseChunks(oneByteChunks(file)).records)).toEqual(expected);
      for (let cut = 0; cut <= file.length; cut++) {
        expect(summary(parseChunks([file.subarray(0, cut), file.subarray(cut)]).records)).toEqual(expected);
      }
    }
  });

  it('an empty capture has no records and no error', () => {
    expect(parseChunks([]).records).toEqual([]);
  });
});

describe('pcapng', () => {
  it('reads what writePcapng writes (nanosecond if_tsresol)', () => {
    const { records, format } = parse(writePcapng(inputs));
    expect(format).toBe('pcapng');
    expectInputs(records, true);
  });

  it('reads a big-endian section with default microsecond resolution', () => {
    const file = Buffer.concat([
      sectionHeader(false),
      interfaceBlock(false, LinkType.ETHERNET, 0),
      ...inputs.map((input) =>
        enhancedPacket(
          false,
          0,
          BigInt(input.tsSec) * 1_000_000n + BigInt(Math.floor(input.tsNanos / 1000)),
          input.frame,
        ),
      ),
    ]);
    expectInputs(parse(file).records, false);
  });

  it('if_tsresol as a power of 10 and of 2', () => {
    const ms = Buffer.concat([
      sectionHeader(true),
      interfaceBlock(true, 1, 0, 3),
      enhancedPacket(true, 0, 1_700_000_000_123n, frames[0]),
    ]);
    expect(parse(ms).records[0]).toMatchObject({ tsSec: 1_700_000_000, tsNanos: 123_000_000 });
    const binary = Buffer.concat([
      sectionHeader(true),
      interfaceBlock(true, 1, 0, 0x80 | 20),
      enhancedPacket(true, 0, (1_700_000_000n << 20n) + (1n << 19n), frames[0]),
    ]);
    expect(parse(binary).records[0]).toMatchObject({ tsSec: 1_700_000_000, tsNanos: 500_000_000 });
    const nanos = Buffer.concat([
      sectionHeader(false),
      interfaceBlock(false, 1, 0, 9),
      enhancedPacket(false, 0, 4_102_444_800_999_999_999n, frames[0]),
    ]);
    expect(parse(nanos).records[0]).toMatchObject({ tsSec: 4_102_444_800, tsNanos: 999_999_999 });
  });

  it('several sections in different byte orders, several interfaces, SPB, obsolete PB, unknown blocks', () => {
    const file = Buffer.concat([
      sectionHeader(true),
      interfaceBlock(true, LinkType.RAW, 0),
      interfaceBlock(true, LinkType.ETHERNET, 0),
      block(0x0bad, Buffer.alloc(12, 7), true), // unknown block type
      enhancedPacket(true, 1, 5_000_000n, frames[0]),
      sectionHeader(false),
      interfaceBlock(false, LinkType.LINUX_SLL, 40),
      block(5, Buffer.alloc(8), false), // interface statistics
      block(3, Buffer.concat([fields(false, [4, frames[1].length]), frames[1]]), false), // SPB, cut to snaplen 40
      block(
        2,
        Buffer.concat([
          fields(false, [2, 0], [2, 0], [4, 0], [4, 7_000_000], [4, frames[2].length], [4, 1600]),
          frames[2],
        ]),
        false,
      ),
    ]);
    const { records } = parse(file);
    expect(records.map((r) => [r.linkType, r.tsSec, r.tsNanos, r.caplen, r.wireLen])).toEqual([
      [LinkType.ETHERNET, 5, 0, frames[0].length, frames[0].length],
      [LinkType.LINUX_SLL, 0, 0, 40, frames[1].length],
      [LinkType.LINUX_SLL, 7, 0, frames[2].length, 1600],
    ]);
    expect(records[1].frame).toEqual(frames[1].subarray(0, 40));
    expect(records[2].frame).toEqual(frames[2]);
    expect(summary(parseChunks(oneByteChunks(file)).records)).toEqual(summary(records));
  });

  it('handles chunk boundaries at every offset', () => {
    const file = writePcapng(inputs);
    const expected = summary(parse(file).records);
    for (let cut = 0; cut <= file.length; cut++) {
      expect(summary(parseChunks([file.subarray(0, cut), file.subarray(cut)]).records)).toEqual(expected);
    }
    expect(summary(parseChunks(oneByteChunks(file)).records)).toEqual(expected);
  });
});

describe('corrupt captures', () => {
  function failure(file: Buffer): CaptureFormatError {
    try {
      parse(file);
    } catch (error) {
      expect(error).toBeInstanceOf(CaptureFormatError);
      return error as CaptureFormatError;
    }
    throw new Error('expected a CaptureFormatError');
  }

  it('pcap caplen above 256 KiB names the byte offset', () => {
    const file = writePcap(inputs);
    const secondRecord = 24 + 16 + frames[0].length;
    file.writeUInt32LE(300_000, secondRecord + 8);
    expect(failure(file).message).toMatch(new RegExp(`record length 300000 .* at byte offset ${secondRecord}$`));
  });

  it('the parser stays failed after an error', () => {
    const file = writePcap(inputs);
    file.writeUInt32LE(0xffffffff, 24 + 8);
    const parser = new CaptureParser();
    parser.push(file);
    expect(() => parser.next()).toThrow(CaptureFormatError);
    expect(() => parser.next()).toThrow(CaptureFormatError);
    expect(() => parser.end()).toThrow(CaptureFormatError);
  });

  it('pcapng block length not a multiple of 4, too small, or mismatched', () => {
    const epbOffset = writePcapng([]).length;
    const notAligned = writePcapng(inputs);
    notAligned.writeUInt32LE(notAligned.readUInt32LE(epbOffset + 4) + 1, epbOffset + 4);
    expect(failure(notAligned).message).toMatch(`at byte offset ${epbOffset}`);
    const tooSmall = writePcapng(inputs);
    tooSmall.writeUInt32LE(8, epbOffset + 4);
    expect(failure(tooSmall).message).toMatch(/bad pcapng block length 8/);
    const mismatched = writePcapng(inputs);
    mismatched.writeUInt32LE(mismatched.readUInt32LE(epbOffset + 4) - 4, epbOffset + 4);
    expect(failure(mismatched).message).toMatch(/mismatch|bad packet length/);
  });

  it('pcapng packet length larger than its block, or for an unknown interface', () => {
    const epbOffset = writePcapng([]).length;
    const caplen = writePcapng(inputs);
    caplen.writeUInt32LE(caplen.readUInt32LE(epbOffset + 20) + 100, epbOffset + 20);
    expect(failure(caplen).message).toMatch(/bad packet length/);
    const iface = writePcapng(inputs);
    iface.writeUInt32LE(3, epbOffset + 8);
    expect(failure(iface).message).toMatch(/undeclared interface 3/);
  });

  it('trailing partial record fails at end()', () => {
    const file = writePcap(inputs);
    for (const cut of [10, 24 + 5, file.length - 1]) {
      expect(failure(file.subarray(0, cut)).message).toMatch(/ends inside a record/);
    }
    const ng = writePcapng(inputs);
    expect(failure(ng.subarray(0, ng.length - 3)).message).toMatch(/ends inside a record/);
  });

  it('unknown magic', () => {
    expect(failure(Buffer.from('GET / HTTP/1.1\r\nHost: example\r\n\r\n')).message).toMatch(
      /not a pcap or pcapng file.*byte offset 0/,
    );
  });
});

describe('files', () => {
  function withTempDir(run: (dir: string) => Promise<void>) {
    return async () => {
      const dir = mkdtempSync(join(tmpdir(), 'packet-test-'));
      try {
        await run(dir);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
  }

  async function readAll(path: string): Promise<CaptureRecord[]> {
    const records: CaptureRecord[] = [];
    for await (const record of readCaptureFile(path)) records.push({ ...record, frame: Buffer.from(record.frame) });
    return records;
  }

  it(
    'readCaptureFile streams pcap and pcapng files',
    withTempDir(async (dir) => {
      writeFileSync(join(dir, 'a.pcap'), writePcap(inputs, { nanos: true }));
      writeFileSync(join(dir, 'a.pcapng'), writePcapng(inputs));
      expectInputs(await readAll(join(dir, 'a.pcap')), true);
      expectInputs(await readAll(join(dir, 'a.pcapng')), true);
    }),
  );

  /** Frame i: its index in the first 4 bytes, then bytes that follow from it. */
  function numberedFrame(i: number, length: number): Buffer {
    const frame = Buffer.alloc(length);
    frame.writeUInt32BE(i, 0);
    for (let at = 4; at < length; at++) frame[at] = (i * 31 + at) & 0xff;
    return frame;
  }

  function isNumberedFrame(frame: Buffer, i: number): boolean {
    if (frame.readUInt32BE(0) !== i) return false;
    for (let at = 4; at < frame.length; at++) if (frame[at] !== ((i * 31 + at) & 0xff)) return false;
    return true;
  }

  /** Frame lengths that cross the 4 MiB read chunks at many offsets, with some near the caplen limit. */
  function frameLength(i: number): number {
    return i % 97 === 0 ? 200_000 + (i % 5) * 10_000 : 60 + ((i * 7919) % 1500);
  }

  it(
    'readCaptureFile over many reused 4 MiB buffers: every frame intact while it is held, also across awaits',
    withTempDir(async (dir) => {
      const count = 20_000; // about 25 MiB: the read buffers are reused many times
      const records = Array.from({ length: count }, (_, i) => ({
        tsSec: i,
        tsNanos: i,
        frame: numberedFrame(i, frameLength(i)),
      }));
      const path = join(dir, 'big.pcap');
      writeFileSync(path, writePcap(records, { nanos: true, snaplen: 256 * 1024 }));
      let i = 0;
      for await (const record of readCaptureFile(path)) {
        expect(record.tsSec).toBe(i);
        expect(record.caplen).toBe(frameLength(i));
        // Let reads in flight land while the record is held: it must not change under the consumer.
        if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
        if (!isNumberedFrame(record.frame, i)) throw new Error(`frame ${i} changed while held`);
        i++;
      }
      expect(i).toBe(count);
    }),
  );

  it(
    'readCaptureFile: a pcapng block larger than a read buffer keeps the buffers it spans',
    withTempDir(async (dir) => {
      const packet = (i: number) => enhancedPacket(true, 0, BigInt(i) * 1_000_000n, numberedFrame(i, frameLength(i)));
      const before = Array.from({ length: 3000 }, (_, i) => packet(i));
      const after = Array.from({ length: 3000 }, (_, i) => packet(3000 + i));
      const path = join(dir, 'big.pcapng');
      writeFileSync(
        path,
        Buffer.concat([
          sectionHeader(true),
          interfaceBlock(true, LinkType.ETHERNET, 0),
          ...before,
          block(0x0bad, Buffer.alloc(11 * 1024 * 1024, 0x5a), true), // an unknown block spanning three read buffers
          ...after,
        ]),
      );
      let i = 0;
      for await (const record of readCaptureFile(path)) {
        expect(record.tsSec).toBe(i);
        if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
        if (!isNumberedFrame(record.frame, i)) throw new Error(`frame ${i} changed while held`);
        i++;
      }
      expect(i).toBe(6000);
    }),
  );

  it(
    'readCaptureFile: a consumer may stop early',
    withTempDir(async (dir) => {
      const path = join(dir, 'stop.pcap');
      writeFileSync(
        path,
        writePcap(
          Array.from({ length: 5000 }, (_, i) => ({ tsSec: i, frame: numberedFrame(i, frameLength(i)) })),
          { snaplen: 256 * 1024 },
        ),
      );
      let seen = 0;
      for await (const record of readCaptureFile(path)) {
        if (++seen === 10) {
          expect(record.tsSec).toBe(9);
          break;
        }
      }
      expect(seen).toBe(10);
    }),
  );

  it('readCaptureFile: a missing file rejects', async () => {
    await expect(readAll(join(tmpdir(), 'no-such-capture-file.pcap'))).rejects.toThrow(/ENOENT/);
  });

  it(
    'readCaptureFile throws CaptureFormatError on a truncated file',
    withTempDir(async (dir) => {
      const file = writePcap(inputs);
      writeFileSync(join(dir, 'cut.pcap'), file.subarray(0, file.length - 1));
      await expect(readAll(join(dir, 'cut.pcap'))).rejects.toThrow(CaptureFormatError);
    }),
  );

  it(
    'PcapWriter to a file descriptor and to a stream matches writePcap',
    withTempDir(async (dir) => {
      const many = Array.from({ length: 5000 }, (_, i) => ({
        tsSec: i,
        tsNanos: i * 1000,
        frame: frames[i % frames.length],
      }));
      const expected = writePcap(many, { nanos: true });

      const fdPath = join(dir, 'fd.pcap');
      const fd = openSync(fdPath, 'w');
      const fdWriter = new PcapWriter(fd, { nanos: true });
      for (const record of many) expect(fdWriter.write(record)).toBe(true);
      await fdWriter.end();
      closeSync(fd);
      expect(readFileSync(fdPath).equals(expected)).toBe(true);

      const streamPath = join(dir, 'stream.pcap');
      const streamWriter = new PcapWriter(createWriteStream(streamPath), { nanos: true });
      for (const record of many) if (!streamWriter.write(record)) await streamWriter.drain();
      await streamWriter.end();
      expect(readFileSync(streamPath).equals(expected)).toBe(true);
    }),
  );

  it(
    'PcapWriter handles a record larger than its buffer',
    withTempDir(async (dir) => {
      const big = { tsSec: 1, frame: Buffer.alloc(2 * 1024 * 1024, 1) };
      const records = [{ tsSec: 0, frame: frames[0] }, big, { tsSec: 2, frame: frames[1] }];
      const path = join(dir, 'big.pcap');
      const fd = openSync(path, 'w');
      const writer = new PcapWriter(fd, { snaplen: 4 * 1024 * 1024 });
      records.forEach((record) => writer.write(record));
      await writer.end();
      closeSync(fd);
      expect(readFileSync(path).equals(writePcap(records, { snaplen: 4 * 1024 * 1024 }))).toBe(true);
    }),
  );
});
