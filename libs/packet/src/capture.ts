/**
 * pcap and pcapng readers. `CaptureParser` is pure and incremental (push
 * chunks, pull records) so the same code serves files, pipes and tests;
 * `readCaptureFile` is the thin file shell around it.
 */
import { open } from 'node:fs/promises';

/**
 * One packet record. A parser hands out the same object each time, refilled: a record (its fields
 * and its frame) is valid only until the next record is requested; copy what must outlive that.
 * A consumer may change the fields of the record it holds (a replay shifts tsSec).
 */
export interface CaptureRecord {
  linkType: number;
  tsSec: number;
  tsNanos: number;
  caplen: number;
  wireLen: number;
  /**
   * The bytes holding the frame, `caplen` of them from `frameStart`: the parser's input, valid only
   * until the next record is requested. Decoders read them in place (decodeFrame), no view made.
   */
  data: Uint8Array;
  frameStart: number;
  /** The frame as a Buffer: the parser makes this view of `data` only when it is asked for. */
  readonly frame: Buffer;
}

export class CaptureFormatError extends Error {
  override name = 'CaptureFormatError';
}

const PCAP_MAGIC_MICROS = 0xa1b2c3d4;
const PCAP_MAGIC_NANOS = 0xa1b23c4d;
const PCAP_GLOBAL_HEADER_LENGTH = 24;
const PCAP_RECORD_HEADER_LENGTH = 16;

/** The Section Header Block type reads the same in both byte orders. */
const PCAPNG_SECTION_HEADER = 0x0a0d0d0a;
const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const PCAPNG_INTERFACE_DESCRIPTION = 1;
const PCAPNG_OBSOLETE_PACKET = 2;
const PCAPNG_SIMPLE_PACKET = 3;
const PCAPNG_ENHANCED_PACKET = 6;
const PCAPNG_OPTION_END = 0;
const PCAPNG_OPTION_IF_TSRESOL = 9;
/** Type + length before the body, length after it. */
const PCAPNG_BLOCK_OVERHEAD = 12;

/** Larger than any real snaplen (libpcap's maximum is 256 KiB): a bigger length means a corrupt file. */
export const MAX_CAPLEN = 256 * 1024;
/** Blocks also hold options and name tables; anything beyond this is taken as corruption, not waited for. */
const MAX_BLOCK_LENGTH = 16 * 1024 * 1024;

/** The top bits of a pcap link type field carry FCS information, not the type. */
const LINKTYPE_MASK = 0x03ffffff;

/** Unsigned 32-bit reads by byte arithmetic: no bounds checks or byte-order branch in the hot path. */
function u32le(buf: Buffer, at: number): number {
  return (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)) >>> 0;
}

function u32be(buf: Buffer, at: number): number {
  return ((buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]) >>> 0;
}

/**
 * Frame views are instances of this Uint8Array subclass whose prototype chain runs through
 * Buffer.prototype (its `constructor` is Buffer): a Buffer in every way callers can see
 * (Buffer.isBuffer, instanceof Buffer, every Buffer method, inspect, equality), made in about half
 * the time of Buffer#subarray.
 */
class FrameBuffer extends Uint8Array {}
Object.setPrototypeOf(FrameBuffer.prototype, Buffer.prototype);
Object.defineProperty(FrameBuffer.prototype, 'constructor', { value: Buffer, writable: true, configurable: true });

const EMPTY_FRAME = Buffer.alloc(0);

/** The parser's one record, refilled by every next(): the frame's place, and its Buffer view on demand. */
class ParsedRecord implements CaptureRecord {
  linkType = 0;
  tsSec = 0;
  tsNanos = 0;
  caplen = 0;
  wireLen = 0;
  data: Buffer = EMPTY_FRAME;
  frameStart = 0;
  private view: Buffer | undefined;

  /** Most readers only decode the frame in place: making a view per record would be an object per packet. */
  get frame(): Buffer {
    // (A SharedArrayBuffer works the same at run time; the types only list ArrayBuffer.)
    this.view ??= new FrameBuffer(
      this.data.buffer as ArrayBuffer,
      this.data.byteOffset + this.frameStart,
      this.caplen,
    ) as unknown as Buffer;
    return this.view;
  }

  setFrame(data: Buffer, start: number, caplen: number): void {
    this.data = data;
    this.frameStart = start;
    this.caplen = caplen;
    this.view = undefined;
  }
}

interface PcapngInterface {
  linkType: number;
  snaplen: number;
  ticksPerSecond: number;
  nanosPerTick: number;
}

/**
 * Pure incremental parser: push chunks, pull records. Handles pcap (µs and ns
 * magic, both byte orders) and pcapng (several sections of either byte order,
 * IDB link type and if_tsresol, EPB, SPB, the obsolete Packet Block; other
 * blocks skipped). A corrupt length ends parsing with a CaptureFormatError
 * that names the byte offset; every later call throws the same error.
 */
export class CaptureParser {
  #format: 'pcap' | 'pcapng' | undefined;
  /** Unread input; reading starts at `pos` in chunks[0]. */
  private readonly chunks: Buffer[] = [];
  private pos = 0;
  private buffered = 0;
  /** Byte offset in the whole input of `pos`, for error messages. */
  private offset = 0;
  private littleEndian = true;
  private failure: CaptureFormatError | undefined;
  private pcapLinkType = 0;
  private pcapNanos = false;
  private interfaces: PcapngInterface[] = [];
  /** The one record every next() refills and returns (see CaptureRecord). */
  private readonly record = new ParsedRecord();

  get format(): 'pcap' | 'pcapng' | undefined {
    return this.#format;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** The next packet record, or undefined when more input is needed. */
  next(): CaptureRecord | undefined {
    if (this.failure) throw this.failure;
    try {
      const format = this.#format;
      if (format === 'pcap') return this.nextPcapRecord();
      if (format === undefined && !this.readFileHeader()) return undefined;
      return this.#format === 'pcap' ? this.nextPcapRecord() : this.nextPcapngRecord();
    } catch (error) {
      if (error instanceof CaptureFormatError) this.failure = error;
      throw error;
    }
  }

  /** Declares the input complete; throws if it stopped inside a header or record. */
  end(): void {
    if (this.failure) throw this.failure;
    if (this.buffered > 0) {
      this.failure = this.error(`capture ends inside a record (${this.buffered} trailing bytes)`);
      throw this.failure;
    }
  }

  private error(message: string): CaptureFormatError {
    return new CaptureFormatError(`${message} at byte offset ${this.offset}`);
  }

  /**
   * Makes `length` unread bytes contiguous and returns the buffer holding them
   * from `this.pos`. Only a record that straddles chunks is copied, and only
   * that record's bytes.
   */
  private view(length: number): Buffer | undefined {
    if (this.buffered < length) return undefined;
    const head = this.chunks[0];
    if (head.length - this.pos >= length) return head;
    const merged = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const chunk = this.chunks[0];
      const take = Math.min(chunk.length - this.pos, length - filled);
      chunk.copy(merged, filled, this.pos, this.pos + take);
      filled += take;
      this.pos += take;
      if (this.pos === chunk.length) {
        this.chunks.shift();
        this.pos = 0;
      }
    }
    // The chunk the copy stopped in keeps its unread rest, as a view.
    if (this.pos > 0) this.chunks[0] = this.chunks[0].subarray(this.pos);
    this.chunks.unshift(merged);
    this.pos = 0;
    return merged;
  }

  private consume(length: number): void {
    this.pos += length;
    this.buffered -= length;
    this.offset += length;
    if (this.chunks.length > 0 && this.pos === this.chunks[0].length) {
      this.chunks.shift();
      this.pos = 0;
    }
  }

  /** Callers have made the bytes available (view()), so the reads need no bounds checks. */
  private u16(buf: Buffer, at: number): number {
    return this.littleEndian ? buf[at] | (buf[at + 1] << 8) : (buf[at] << 8) | buf[at + 1];
  }

  private u32(buf: Buffer, at: number): number {
    return this.littleEndian ? u32le(buf, at) : u32be(buf, at);
  }

  /** Detects the format; for pcap also consumes the global header. */
  private readFileHeader(): boolean {
    const magicBytes = this.view(4);
    if (!magicBytes) return false;
    const magic = magicBytes.readUInt32LE(this.pos);
    if (magic === PCAPNG_SECTION_HEADER) {
      this.#format = 'pcapng';
      return true;
    }
    const buf = this.view(PCAP_GLOBAL_HEADER_LENGTH);
    if (!buf) return false;
    const magicBigEndian = buf.readUInt32BE(this.pos);
    if (magic === PCAP_MAGIC_MICROS || magic === PCAP_MAGIC_NANOS) {
      this.littleEndian = true;
    } else if (magicBigEndian === PCAP_MAGIC_MICROS || magicBigEndian === PCAP_MAGIC_NANOS) {
      this.littleEndian = false;
    } else {
      throw this.error(`not a pcap or pcapng file (magic 0x${magic.toString(16).padStart(8, '0')})`);
    }
    this.pcapNanos = this.u32(buf, this.pos) === PCAP_MAGIC_NANOS;
    this.pcapLinkType = this.u32(buf, this.pos + 20) & LINKTYPE_MASK;
    this.#format = 'pcap';
    this.consume(PCAP_GLOBAL_HEADER_LENGTH);
    return true;
  }

  /**
   * The fast path: a record wholly inside the current chunk (all but one per chunk) is read in
   * place with byte arithmetic, one branch on the byte order, and no copy. Anything else (a record
   * straddling chunks, too little input, a corrupt length) takes the general path.
   */
  private nextPcapRecord(): CaptureRecord | undefined {
    if (this.chunks.length === 0) return undefined;
    const buf = this.chunks[0];
    const at = this.pos;
    const available = buf.length - at;
    if (available >= PCAP_RECORD_HEADER_LENGTH) {
      const caplen = this.littleEndian ? u32le(buf, at + 8) : u32be(buf, at + 8);
      const size = PCAP_RECORD_HEADER_LENGTH + caplen;
      if (caplen <= MAX_CAPLEN && available >= size) {
        const record = this.fillPcapRecord(buf, at, caplen);
        this.pos = at + size;
        this.buffered -= size;
        this.offset += size;
        if (this.pos === buf.length) {
          this.chunks.shift();
          this.pos = 0;
        }
        return record;
      }
    }
    return this.nextPcapRecordAcrossChunks();
  }

  private nextPcapRecordAcrossChunks(): CaptureRecord | undefined {
    const header = this.view(PCAP_RECORD_HEADER_LENGTH);
    if (!header) return undefined;
    const caplen = this.u32(header, this.pos + 8);
    if (caplen > MAX_CAPLEN) throw this.error(`record length ${caplen} exceeds ${MAX_CAPLEN}`);
    const buf = this.view(PCAP_RECORD_HEADER_LENGTH + caplen);
    if (!buf) return undefined;
    const record = this.fillPcapRecord(buf, this.pos, caplen);
    this.consume(PCAP_RECORD_HEADER_LENGTH + caplen);
    return record;
  }

  /** Fills the record from the pcap record header at `at` and the `caplen` bytes after it. */
  private fillPcapRecord(buf: Buffer, at: number, caplen: number): CaptureRecord {
    const record = this.record;
    let tsSec: number;
    let fraction: number;
    let wireLen: number;
    if (this.littleEndian) {
      tsSec = u32le(buf, at);
      fraction = u32le(buf, at + 4);
      wireLen = u32le(buf, at + 12);
    } else {
      tsSec = u32be(buf, at);
      fraction = u32be(buf, at + 4);
      wireLen = u32be(buf, at + 12);
    }
    record.linkType = this.pcapLinkType;
    record.tsSec = tsSec;
    record.tsNanos = this.pcapNanos ? fraction : fraction * 1000;
    record.wireLen = wireLen;
    record.setFrame(buf, at + PCAP_RECORD_HEADER_LENGTH, caplen);
    return record;
  }

  private nextPcapngRecord(): CaptureRecord | undefined {
    for (;;) {
      const start = this.view(8);
      if (!start) return undefined;
      if (start.readUInt32LE(this.pos) === PCAPNG_SECTION_HEADER) {
        // The section's byte order is only known from the magic after the length.
        const section = this.view(12);
        if (!section) return undefined;
        const byteOrder = section.readUInt32LE(this.pos + 8);
        if (byteOrder === PCAPNG_BYTE_ORDER_MAGIC) this.littleEndian = true;
        else if (section.readUInt32BE(this.pos + 8) === PCAPNG_BYTE_ORDER_MAGIC) this.littleEndian = false;
        else throw this.error('bad pcapng byte-order magic');
      }
      const headerBuf = this.view(8);
      if (!headerBuf) return undefined;
      const type = this.u32(headerBuf, this.pos);
      const length = this.u32(headerBuf, this.pos + 4);
      if (length % 4 !== 0 || length < PCAPNG_BLOCK_OVERHEAD || length > MAX_BLOCK_LENGTH) {
        throw this.error(`bad pcapng block length ${length}`);
      }
      const buf = this.view(length);
      if (!buf) return undefined;
      const at = this.pos;
      if (this.u32(buf, at + length - 4) !== length) throw this.error('pcapng block length mismatch');
      const record = this.readBlock(type, buf, at, length);
      this.consume(length);
      if (record) return record;
    }
  }

  /** Interprets one complete block at `at`; returns a record for packet blocks. */
  private readBlock(type: number, buf: Buffer, at: number, length: number): CaptureRecord | undefined {
    switch (type) {
      case PCAPNG_SECTION_HEADER:
        if (length < 28) throw this.error(`section header block too short (${length})`);
        this.interfaces = [];
        return undefined;
      case PCAPNG_INTERFACE_DESCRIPTION:
        if (length < 20) throw this.error(`interface description block too short (${length})`);
        this.interfaces.push(this.readInterface(buf, at, length));
        return undefined;
      case PCAPNG_ENHANCED_PACKET:
        if (length < 32) throw this.error(`enhanced packet block too short (${length})`);
        return this.packetRecord(buf, at, length, this.u32(buf, at + 8));
      case PCAPNG_OBSOLETE_PACKET:
        if (length < 32) throw this.error(`packet block too short (${length})`);
        return this.packetRecord(buf, at, length, this.u16(buf, at + 8));
      case PCAPNG_SIMPLE_PACKET:
        return this.simplePacketRecord(buf, at, length);
      default:
        return undefined;
    }
  }

  private readInterface(buf: Buffer, at: number, length: number): PcapngInterface {
    let tsresol = 6;
    const optionsEnd = at + length - 4;
    for (let option = at + 16; option + 4 <= optionsEnd; ) {
      const code = this.u16(buf, option);
      const optionLength = this.u16(buf, option + 2);
      if (code === PCAPNG_OPTION_END) break;
      if (option + 4 + optionLength > optionsEnd) throw this.error('interface option overruns its block');
      if (code === PCAPNG_OPTION_IF_TSRESOL && optionLength >= 1) tsresol = buf[option + 4];
      option += 4 + ((optionLength + 3) & ~3);
    }
    // The high bit selects a power of 2 instead of a power of 10.
    const ticksPerSecond = tsresol & 0x80 ? 2 ** (tsresol & 0x7f) : 10 ** tsresol;
    return {
      linkType: this.u16(buf, at + 8),
      snaplen: this.u32(buf, at + 12),
      ticksPerSecond,
      nanosPerTick: 1e9 / ticksPerSecond,
    };
  }

  /** EPB and the obsolete Packet Block share the layout after the interface id field. */
  private packetRecord(buf: Buffer, at: number, length: number, interfaceId: number): CaptureRecord {
    const iface = this.interfaces[interfaceId];
    if (!iface) throw this.error(`packet for undeclared interface ${interfaceId}`);
    const caplen = this.u32(buf, at + 20);
    if (caplen > MAX_CAPLEN || 28 + caplen > length - 4) throw this.error(`bad packet length ${caplen}`);
    const record = this.record;
    record.linkType = iface.linkType;
    record.wireLen = this.u32(buf, at + 24);
    record.setFrame(buf, at + 28, caplen);
    setTimestamp(record, this.u32(buf, at + 12), this.u32(buf, at + 16), iface);
    return record;
  }

  /** SPB: no timestamp; interface 0; the captured length follows from the block length and snaplen. */
  private simplePacketRecord(buf: Buffer, at: number, length: number): CaptureRecord {
    const iface = this.interfaces[0];
    if (!iface) throw this.error('simple packet block without an interface');
    if (length < 16) throw this.error(`simple packet block too short (${length})`);
    const wireLen = this.u32(buf, at + 8);
    let caplen = Math.min(wireLen, length - 16);
    if (iface.snaplen > 0) caplen = Math.min(caplen, iface.snaplen);
    if (caplen > MAX_CAPLEN) throw this.error(`bad packet length ${caplen}`);
    const record = this.record;
    record.linkType = iface.linkType;
    record.tsSec = 0;
    record.tsNanos = 0;
    record.wireLen = wireLen;
    record.setFrame(buf, at + 12, caplen);
    return record;
  }
}

/**
 * Splits a 64-bit tick count into seconds and nanoseconds without BigInt: long
 * division in 16-bit digits keeps every intermediate exact for resolutions up
 * to 2^37 ticks per second (finer ones lose sub-nanosecond precision only).
 */
function setTimestamp(record: CaptureRecord, high: number, low: number, iface: PcapngInterface): void {
  const divisor = iface.ticksPerSecond;
  let seconds = 0;
  let remainder = 0;
  for (let shift = 48; shift >= 0; shift -= 16) {
    const word = shift >= 32 ? high : low;
    remainder = remainder * 65536 + ((word >>> (shift & 31)) & 0xffff);
    const quotient = Math.floor(remainder / divisor);
    remainder -= quotient * divisor;
    seconds = seconds * 65536 + quotient;
  }
  record.tsSec = seconds;
  record.tsNanos = Math.floor(remainder * iface.nanosPerTick);
}

const READ_CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * The records of one chunk of input: next() until it answers undefined. Consumers that loop over a
 * chunk synchronously avoid an async step per record (a third of the decode path's time otherwise).
 */
export interface RecordReader {
  next(): CaptureRecord | undefined;
}

/** The records of a capture file one by one (over readCaptureChunks). */
export async function* readCaptureFile(path: string): AsyncGenerator<CaptureRecord> {
  for await (const chunk of readCaptureChunks(path)) {
    for (let record = chunk.next(); record; record = chunk.next()) yield record;
  }
}

/** The unread input a parser still holds (module-internal: readCaptureFile's buffer reuse depends on it). */
function unreadBytes(parser: CaptureParser): number {
  return parser['buffered'];
}

/**
 * Streams a capture file in 4 MiB chunks through CaptureParser, yielding the parser after each
 * chunk for the consumer to read its records, reading into a small pool of
 * reused buffers (usually three) with the next read in flight while the current chunk is parsed.
 *
 * When a buffer may be reused (read into again):
 * - Records are views into the chunks (or into the parser's own copy of a record that straddles
 *   chunks), and a record is valid only until the next one is requested. The pool is only
 *   updated once parser.next() returned undefined, and that call runs only after the consumer
 *   asked for the record after the last one yielded: by then no record the consumer may still use
 *   views any buffer.
 * - The parser keeps (as views, not copies) exactly its unread input, always the last
 *   `unreadBytes` bytes pushed: the start of a record that continues in the next chunk. So the
 *   newest buffers holding those bytes stay live (usually only the newest one; a pcapng block may
 *   be larger than a chunk and keep several), and every older one goes back to the pool.
 * - The buffer being read into is taken from the pool, so it is never one the parser holds; when
 *   the pool is empty a new buffer is allocated (three in the steady state: the chunk being
 *   parsed, the previous one while a record straddles into the current, and the one being read).
 */
export async function* readCaptureChunks(path: string): AsyncGenerator<RecordReader> {
  const parser = new CaptureParser();
  const file = await open(path, 'r');
  const pool: Buffer[] = [];
  /** Buffers pushed into the parser that it may still hold, oldest first, and the bytes pushed from each. */
  const live: Buffer[] = [];
  const liveBytes: number[] = [];
  const startRead = (buffer: Buffer) => ({
    buffer,
    bytesRead: file.read(buffer, 0, buffer.length, null).then((r) => r.bytesRead),
  });
  const take = () => pool.pop() ?? Buffer.allocUnsafeSlow(READ_CHUNK_BYTES);
  let reading: ReturnType<typeof startRead> | undefined = startRead(take());
  try {
    for (;;) {
      const { buffer } = reading;
      const bytes = await reading.bytesRead;
      reading = undefined;
      if (bytes === 0) break;
      parser.push(buffer.subarray(0, bytes));
      live.push(buffer);
      liveBytes.push(bytes);
      reading = startRead(take());
      yield parser;
      // The parser wants more input (or the consumer left records unread: they stay buffered): keep the buffers holding its unread bytes, pool the rest.
      let unread = unreadBytes(parser);
      let keep = live.length;
      while (keep > 0 && unread > 0) unread -= liveBytes[--keep];
      for (const free of live.splice(0, keep)) pool.push(free);
      liveBytes.splice(0, keep);
    }
    parser.end();
  } finally {
    // A consumer that stops early, or a format error, leaves a read in flight: let it land before closing.
    if (reading) await reading.bytesRead.catch(() => 0);
    await file.close();
  }
}
