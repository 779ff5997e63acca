import { describe, expect, it } from 'vitest';
import { chunk, commitOffset, decodeCommitMetadata, encodeCommitMetadata } from '../src/commit-point.js';

describe('commit point', () => {
  it('commits up to the first message an open window still holds, else past the last processed', () => {
    expect(commitOffset(17, 40)).toBe(17);
    expect(commitOffset(undefined, 40)).toBe(41);
  });

  it('round-trips its metadata, including "nothing emitted yet"', () => {
    expect(decodeCommitMetadata(encodeCommitMetadata({ emittedThrough: 1_700_000_010, processedThrough: 40 }))).toEqual({ emittedThrough: 1_700_000_010, processedThrough: 40 });
    expect(decodeCommitMetadata(encodeCommitMetadata({ emittedThrough: -Infinity, processedThrough: 3 }))).toEqual({ emittedThrough: -Infinity, processedThrough: 3 });
    expect(decodeCommitMetadata('')).toBeUndefined();
    expect(decodeCommitMetadata('not json')).toBeUndefined();
  });

  it('splits records into bounded messages', () => {
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunk([], 2)).toEqual([]);
  });
});
