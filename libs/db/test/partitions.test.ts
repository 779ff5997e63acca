/** Day partitions: their names and ranges, and the days made ahead. Pure. */
import { describe, expect, it } from 'vitest';
import { dayPartitionName, daysAhead } from '../src/partitions.js';

describe('day partitions', () => {
  it('are named by the UTC day of the window start and cover it whole', () => {
    const ws = Date.UTC(2026, 11, 31, 23, 59) / 1000;
    expect(dayPartitionName(ws)).toEqual({
      name: 'flow_records_20261231',
      from: Date.UTC(2026, 11, 31) / 1000,
      to: Date.UTC(2027, 0, 1) / 1000,
    });
    expect(dayPartitionName(Date.UTC(2027, 0, 1) / 1000).name).toBe('flow_records_20270101');
  });

  it('are made ahead for today and the days after it', () => {
    const now = Date.UTC(2026, 11, 31, 23, 59, 30) / 1000;
    expect(daysAhead(now, 1).map((ws) => dayPartitionName(ws).name)).toEqual([
      'flow_records_20261231',
      'flow_records_20270101',
    ]);
    expect(daysAhead(now, 0)).toEqual([Date.UTC(2026, 11, 31) / 1000]);
  });
});
