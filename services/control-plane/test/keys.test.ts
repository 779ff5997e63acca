import { describe, expect, it } from 'vitest';
import { bearerToken, hashApiKey } from '../src/api-key.js';
import { newAccountId, newResourceId } from '../src/ids.js';

describe('API keys', () => {
  it('hash to sha256 hex', () => {
    expect(hashApiKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('come from a Bearer header only', () => {
    expect(bearerToken('Bearer k-123')).toBe('k-123');
    expect(bearerToken('bearer  k-123 ')).toBe('k-123');
    for (const h of [undefined, '', 'Bearer', 'Bearer ', 'Basic abc', 'Bearer a b', 'k-123'])
      expect(bearerToken(h)).toBeUndefined();
  });
});

describe('ids', () => {
  it('are prefixed hex resource ids and 12-digit account ids, all different', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newResourceId('vpc')));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^vpc-[0-9a-f]{17}$/);
    expect(newAccountId()).toMatch(/^\d{12}$/);
  });
});
