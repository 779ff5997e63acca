import { describe, expect, it } from 'vitest';
import {
  actionsSql,
  actionTotals,
  histogramBuckets,
  histogramSql,
  histogramStep,
  rollupHours,
  topSql,
} from '../src/analysis.js';
import { parseQuery } from '../src/query/index.js';

const scope = {
  logTopicId: 'topic-1',
  accountId: '123456789012',
  from: 1000,
  to: 1600,
  where: parseQuery('dstport:443'),
};

describe('analysis SQL', () => {
  it('groups the scope OK records by the key, ordered by the metric', () => {
    const { text, values } = topSql(scope, { by: 'srcaddr', metric: 'packets', limit: 5 });
    expect(text).toMatch(
      /^SELECT host\(srcaddr\) AS key, coalesce\(sum\(bytes\), 0\)::bigint AS bytes, .* count\(\*\) AS flows FROM flow_records WHERE /,
    );
    expect(text).toContain(
      "account_id = $3 AND window_start < $4 AND window_end > $1 AND window_start >= $1::bigint - 600 AND dstport = $5 AND log_status = 'OK'",
    );
    expect(text).toMatch(/GROUP BY 1 ORDER BY packets DESC, 1 LIMIT \$6$/);
    expect(values).toEqual([1000, 'topic-1', '123456789012', 1600, 443, 5]);
  });

  it('reads the whole hours of an unfiltered range from the rollup, the edges from the records', () => {
    const day = { ...scope, from: 7200 - 60, to: 7200 + 86_400 - 60, where: undefined };
    expect(rollupHours(day)).toEqual({ from: 7200, to: 7200 + 82_800 });
    const { text, values } = topSql(day, { by: 'srcaddr', metric: 'bytes', limit: 10 });
    expect(text).toMatch(
      /^SELECT key, sum\(bytes\)::bigint AS bytes, sum\(packets\)::bigint AS packets, sum\(flows\)::bigint AS flows FROM \(SELECT host\(srcaddr\) AS key, /,
    );
    // Before the first whole hour (windows overlapping `from` included), the whole hours, from the last whole hour on.
    expect(text).toContain(
      "window_end > $1 AND window_start >= $1::bigint - 600 AND log_status = 'OK' AND window_start < $6 GROUP BY 1 UNION ALL ",
    );
    expect(text).toContain(
      'UNION ALL SELECT key::text, bytes, packets, flows FROM flow_rollup_hourly WHERE log_topic_id = $8 AND account_id = $9 AND dimension = $10 AND hour >= $6 AND hour < $7 UNION ALL ',
    );
    // … and the records stored since the rollup's last fold, in the same hours.
    expect(text).toContain(
      'UNION ALL SELECT host(srcaddr) AS key, coalesce(sum(bytes), 0)::bigint AS bytes, coalesce(sum(packets), 0)::bigint AS packets, count(*) AS flows ' +
        'FROM flow_rollup_pending WHERE log_topic_id = $8 AND account_id = $9 AND window_start >= $6 AND window_start < $7 GROUP BY 1 UNION ALL ',
    );
    expect(text).toMatch(/AND window_start >= \$7 GROUP BY 1\) AS parts GROUP BY 1 ORDER BY bytes DESC, 1 LIMIT \$5$/);
    expect(values).toEqual([
      7140,
      'topic-1',
      '123456789012',
      93_540,
      10,
      7200,
      90_000,
      'topic-1',
      '123456789012',
      'srcaddr',
    ]);
    // Keys keep the records' type: numbers as numbers.
    expect(topSql(day, { by: 'dstport', metric: 'flows', limit: 10 }).text).toContain('SELECT key::integer, bytes');
    expect(topSql(day, { by: 'protocol', metric: 'flows', limit: 10 }).text).toContain('SELECT key::smallint, bytes');
  });

  it('reads the records only under a query, without a whole hour, or when told to', () => {
    const hours = { ...scope, from: 3600, to: 3 * 3600 };
    expect(rollupHours(hours)).toBeUndefined(); // filtered by dstport:443
    expect(rollupHours({ ...hours, where: undefined })).toEqual({ from: 3600, to: 3 * 3600 });
    expect(rollupHours({ ...hours, where: undefined, from: 3601, to: 3 * 3600 - 1 })).toBeUndefined(); // one hour, no whole one
    expect(rollupHours({ ...hours, where: undefined, from: 3601, to: 3 * 3600 })).toEqual({ from: 7200, to: 3 * 3600 });
    const records =
      /^SELECT \S+ AS key, coalesce\(sum\(bytes\), 0\)::bigint AS bytes, .* FROM flow_records WHERE [\s\S]* GROUP BY 1 ORDER BY /;
    expect(topSql(hours, { by: 'dstport', metric: 'bytes', limit: 10 }).text).toMatch(records);
    expect(
      topSql({ ...hours, where: undefined, to: 7199 }, { by: 'dstport', metric: 'bytes', limit: 10 }).text,
    ).toMatch(records);
    expect(
      topSql({ ...hours, where: undefined }, { by: 'dstport', metric: 'bytes', limit: 10 }, { rollup: false }).text,
    ).toMatch(records);
    expect(topSql({ ...hours, where: undefined }, { by: 'dstport', metric: 'bytes', limit: 10 }).text).toContain(
      'flow_rollup_hourly',
    );
  });

  it('buckets by window start from `from`, and totals per action', () => {
    expect(histogramSql(scope, 60).text).toMatch(
      /^SELECT \$6::bigint \+ greatest\(0, \(window_start - \$6::bigint\) \/ \$7::bigint\) \* \$7::bigint AS start/,
    );
    expect(histogramSql(scope, 60).values.slice(-2)).toEqual([1000, 60]);
    expect(actionsSql(scope).text).toMatch(/GROUP BY action$/);
  });
});

describe('analysis shapes', () => {
  it('chooses a step from the bucket count, refusing too many buckets', () => {
    expect(histogramStep({ from: 0, to: 3600 }, { buckets: 60 })).toBe(60);
    expect(histogramStep({ from: 0, to: 100 }, { buckets: 60 })).toBe(2);
    expect(histogramStep({ from: 0, to: 3600 }, { buckets: 60, step: 10 })).toBe(10);
    expect(() => histogramStep({ from: 0, to: 86_400 * 30 }, { buckets: 60, step: 1 })).toThrow(
      /step: makes more than 10000 buckets/,
    );
  });

  it('fills empty buckets with zeros', () => {
    const rows = [{ start: 1060, bytes: 10, packets: 1, flows: 1 }];
    expect(histogramBuckets(rows, { from: 1000, to: 1150 }, 60)).toEqual({
      step: 60,
      buckets: [
        { start: 1000, bytes: 0, packets: 0, flows: 0 },
        { start: 1060, bytes: 10, packets: 1, flows: 1 },
        { start: 1120, bytes: 0, packets: 0, flows: 0 },
      ],
    });
  });

  it('answers both actions', () => {
    expect(actionTotals([{ action: 'REJECT', bytes: 5, packets: 1, flows: 1 }])).toEqual({
      ACCEPT: { bytes: 0, packets: 0, flows: 0 },
      REJECT: { bytes: 5, packets: 1, flows: 1 },
    });
  });
});
