import { describe, expect, it } from 'vitest';
import { actionsSql, actionTotals, histogramBuckets, histogramSql, histogramStep, topSql } from '../src/analysis.js';
import { parseQuery } from '../src/query/index.js';

const scope = { logTopicId: 'topic-1', accountId: '123456789012', from: 1000, to: 1600, where: parseQuery('dstport:443') };

describe('analysis SQL', () => {
  it('groups the scope OK records by the key, ordered by the metric', () => {
    const { text, values } = topSql(scope, { by: 'srcaddr', metric: 'packets', limit: 5 });
    expect(text).toMatch(/^SELECT host\(srcaddr\) AS key, coalesce\(sum\(bytes\), 0\)::bigint AS bytes, .* count\(\*\) AS flows FROM flow_records WHERE /);
    expect(text).toContain("account_id = $3 AND window_start < $4 AND window_end > $1 AND window_start >= $1::bigint - 600 AND dstport = $5 AND log_status = 'OK'");
    expect(text).toMatch(/GROUP BY 1 ORDER BY packets DESC, 1 LIMIT \$6$/);
    expect(values).toEqual([1000, 'topic-1', '123456789012', 1600, 443, 5]);
  });

  it('buckets by window start from `from`, and totals per action', () => {
    expect(histogramSql(scope, 60).text).toMatch(/^SELECT \$6::bigint \+ greatest\(0, \(window_start - \$6::bigint\) \/ \$7::bigint\) \* \$7::bigint AS start/);
    expect(histogramSql(scope, 60).values.slice(-2)).toEqual([1000, 60]);
    expect(actionsSql(scope).text).toMatch(/GROUP BY action$/);
  });
});

describe('analysis shapes', () => {
  it('chooses a step from the bucket count, refusing too many buckets', () => {
    expect(histogramStep({ from: 0, to: 3600 }, { buckets: 60 })).toBe(60);
    expect(histogramStep({ from: 0, to: 100 }, { buckets: 60 })).toBe(2);
    expect(histogramStep({ from: 0, to: 3600 }, { buckets: 60, step: 10 })).toBe(10);
    expect(() => histogramStep({ from: 0, to: 86_400 * 30 }, { buckets: 60, step: 1 })).toThrow(/step: makes more than 10000 buckets/);
  });

  it('fills empty buckets with zeros', () => {
    const rows = [{ start: 1060, bytes: 10, packets: 1, flows: 1 }];
    expect(histogramBuckets(rows, { from: 1000, to: 1150 }, 60)).toEqual({
      step: 60,
      buckets: [{ start: 1000, bytes: 0, packets: 0, flows: 0 }, { start: 1060, bytes: 10, packets: 1, flows: 1 }, { start: 1120, bytes: 0, packets: 0, flows: 0 }],
    });
  });

  it('answers both actions', () => {
    expect(actionTotals([{ action: 'REJECT', bytes: 5, packets: 1, flows: 1 }])).toEqual({ ACCEPT: { bytes: 0, packets: 0, flows: 0 }, REJECT: { bytes: 5, packets: 1, flows: 1 } });
  });
});
