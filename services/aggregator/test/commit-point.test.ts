import { describe, expect, it } from 'vitest';
import {
  chunk,
  commitOffset,
  decodeCommitMetadata,
  encodeCommitMetadata,
  MAX_METADATA_BYTES,
} from '../src/commit-point.js';

describe('commit point', () => {
  it('commits up to the first message an open window still holds, else past the last processed', () => {
    expect(commitOffset(17, 40)).toBe(17);
    expect(commitOffset(undefined, 40)).toBe(41);
  });

  it("round-trips its metadata: each ENI's emitted-through second, grouped", () => {
    const m = {
      emitted: [
        ['eni-a', 1_700_000_010],
        ['eni-b', 1_700_000_010],
        ['eni-old', 999_999_990],
      ] as Array<[string, number]>,
      processedThrough: 40,
    };
    const { text, left } = encodeCommitMetadata(m);
    expect(left).toBe(0);
    expect(JSON.parse(text)).toEqual({ p: 40, e: { 1700000010: ['eni-a', 'eni-b'], 999999990: ['eni-old'] } });
    expect(decodeCommitMetadata(text)).toEqual({
      ...m,
      emitted: [
        ['eni-old', 999_999_990],
        ['eni-a', 1_700_000_010],
        ['eni-b', 1_700_000_010],
      ],
    });
    expect(decodeCommitMetadata(encodeCommitMetadata({ emitted: [], processedThrough: 3 }).text)).toEqual({
      emitted: [],
      processedThrough: 3,
    });
    expect(decodeCommitMetadata('{"e":1700000010,"p":7}')).toEqual({ emitted: [], processedThrough: 7 });
    expect(decodeCommitMetadata('')).toBeUndefined();
    expect(decodeCommitMetadata('not json')).toBeUndefined();
  });

  it("stays under Kafka's metadata limit: about 250 live ENIs of a partition fit, the rest are counted as left out", () => {
    const emitted = Array.from(
      { length: 1000 },
      (_, i) => [`eni-${(0x10000000 + i).toString(16)}`, 1_700_000_010] as [string, number],
    );
    const { text, left } = encodeCommitMetadata({ emitted, processedThrough: 123_456_789 });
    expect(text.length).toBeLessThanOrEqual(MAX_METADATA_BYTES);
    expect(decodeCommitMetadata(text)!.emitted.length).toBe(1000 - left);
    expect(1000 - left).toBeGreaterThan(250);
  });

  it('splits records into bounded messages', () => {
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunk([], 2)).toEqual([]);
  });
});
