import { describe, expect, it } from 'vitest';
import { ReplayClock } from '../src/pacing.js';

describe('ReplayClock', () => {
  it('makes each packet wait until as much wall time as capture time has passed', () => {
    let now = 1000;
    const clock = new ReplayClock(() => now);
    expect(clock.delayFor(50)).toBe(0);
    expect(clock.delayFor(52)).toBe(2);
    now += 1.5;
    expect(clock.delayFor(52)).toBeCloseTo(0.5);
    now += 10;
    expect(clock.delayFor(53)).toBe(0); // behind schedule: no wait
  });
});
