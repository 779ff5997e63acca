import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../src/cursor.js';

describe('cursor', () => {
  it('round-trips as URL-safe text', () => {
    const cursor = { windowStart: 1_700_000_400, recordId: 'a/b+c' };
    const s = encodeCursor(cursor);
    expect(s).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(s)).toEqual(cursor);
  });

  it('refuses anything else', () => {
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    for (const s of ['', 'not base64!', enc({ windowStart: 1 }), enc([1.5, 'x']), enc(['1', 'x']), enc([1, 2]), enc([1, 'x', 3])]) {
      expect(decodeCursor(s)).toBeUndefined();
    }
  });
});
