/** The histogram's axis (a pure function of the console, run in Node): round, different labels, never "1 B / 1 B / 0 B". */
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- the console is plain JS with JSDoc types, outside the TypeScript project
import { niceCeil } from '../../services/control-plane/console/components/histogram.js';
// @ts-expect-error -- as above
import { bytes } from '../../services/control-plane/console/format.js';

/** The top and middle labels of an axis for a largest bucket of `max` bytes. */
const labels = (max: number) => [bytes(niceCeil(max)), bytes(Math.round(niceCeil(max) / 2))];

describe('histogram axis', () => {
  it('reads as round, different numbers in the unit shown', () => {
    expect(labels(0)).toEqual(['2 B', '1 B']);
    expect(labels(1)).toEqual(['2 B', '1 B']);
    expect(labels(756)).toEqual(['1000 B', '500 B']);
    expect(labels(1500)).toEqual(['2.0 KB', '1.0 KB']);
    expect(labels(40_000)).toEqual(['50 KB', '25 KB']);
    expect(labels(5e9)).toEqual(['5.0 GB', '2.5 GB']);
  });

  it('is never below the largest bucket', () => {
    for (const v of [0, 1, 3, 999, 1023, 1024, 1025, 123_456, 9.9e6, 2 ** 40])
      expect(niceCeil(v)).toBeGreaterThanOrEqual(v);
  });
});
