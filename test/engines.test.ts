/**
 * The Node versions package.json declares are ones every installed package supports (npm ci warned that
 * content-disposition@3 and cookie@2 want Node 22 while we declared 20), and the one the tests run on is
 * among them.
 */
import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const root = new URL('../', import.meta.url);
const declared: string = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')).engines.node;
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
};

describe('engines', () => {
  it('every package in the lock file supports every Node version package.json declares', () => {
    const narrower = Object.entries(lock.packages)
      .map(([path, p]) => ({ path, version: p.version, node: Array.isArray(p.engines) ? undefined : p.engines?.node }))
      .filter((p) => p.node !== undefined && !semver.subset(declared, p.node))
      .map((p) => `${p.path}@${p.version} wants node ${p.node}`);
    expect(narrower).toEqual([]);
  });

  it('the Node the tests run on is one package.json declares', () => {
    expect(semver.satisfies(process.version, declared), `${process.version} vs ${declared}`).toBe(true);
  });
});
