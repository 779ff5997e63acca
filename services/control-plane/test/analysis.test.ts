import { describe, expect, it } from 'vitest';
import {
  actionsSql,
  actionTotals,
  facetOf,
  histogramBuckets,
  histogramSql,
  histogramStep,
  seriesAnswers,
  splitRange,
  topRecordsSql,
  topRollupSql,
} from '../src/analysis.js';
import { parseQuery } from '../src/query/index.js';

const DAY = 86_400;
const scope = {
  logTopicId: 'topic-1',
  accountId: '123456789012',
  from: 1000,
  to: 1600,
  where: parseQuery('dstport:443'),
};

describe('splitting a range', () => {
  it('takes whole days, then whole 10-minute slots, and leaves the edges to the records', () => {
    // A day from 00:15 to 00:15: no whole day, slots from 00:20 to 00:10 the next day.
    expect(splitRange({ from: 900, to: DAY + 900 })).toEqual({
      whole: { from: 1200, to: DAY + 600 },
      slots: [{ from: 1200, to: DAY + 600 }],
    });
    // Seven days from 23:59:43: six whole days, the slots around them.
    const from = 2 * DAY - 17;
    expect(splitRange({ from, to: from + 7 * DAY })).toEqual({
      whole: { from: 2 * DAY, to: 9 * DAY - 600 },
      days: { from: 2 * DAY, to: 8 * DAY },
      slots: [{ from: 8 * DAY, to: 9 * DAY - 600 }],
    });
    // Days exactly: no slot, no edge.
    expect(splitRange({ from: DAY, to: 3 * DAY })).toEqual({
      whole: { from: DAY, to: 3 * DAY },
      days: { from: DAY, to: 3 * DAY },
      slots: [],
    });
    // Boundaries: a slot is whole only when the range holds all of it.
    expect(splitRange({ from: 600, to: 1200 })).toEqual({
      whole: { from: 600, to: 1200 },
      slots: [{ from: 600, to: 1200 }],
    });
    expect(splitRange({ from: 601, to: 1200 })).toEqual({ slots: [] });
    expect(splitRange({ from: 600, to: 1199 })).toEqual({ slots: [] });
  });
});

describe('analysis SQL', () => {
  it('groups the scope OK records by the key, ordered by the metric', () => {
    const { text, values } = topRecordsSql(scope, { by: 'srcaddr', metric: 'packets', limit: 5 });
    expect(text).toMatch(
      /^SELECT host\(srcaddr\) AS key, bytes, packets, flows FROM \(SELECT srcaddr, coalesce\(sum\(bytes\), 0\)::bigint AS bytes, .* count\(\*\) AS flows FROM flow_records WHERE /,
    );
    expect(text).toContain(
      "account_id = $3 AND window_start < $4 AND window_end > $1 AND window_start >= $1::bigint - 600 AND dstport = $5 AND log_status = 'OK'",
    );
    expect(text).toMatch(/GROUP BY 1\) AS g ORDER BY packets DESC, 1 LIMIT \$6$/);
    expect(values).toEqual([1000, 'topic-1', '123456789012', 1600, 443, 5]);
  });

  it('reads the levels for the whole parts of a range, the records at its edges, the partial days for bounds', () => {
    const week = { ...scope, from: 2 * DAY - 17, to: 9 * DAY - 17, where: undefined };
    const sql = topRollupSql(week, { by: 'srcaddr', metric: 'bytes', limit: 10 })!;
    // The edges from the records, for the candidates; the slots not sealed (in neither level) — in
    // whole days too, at the edges too — from the records, per key and whether in a whole day, read
    // once, every key of theirs a candidate.
    expect(sql.text).toContain(
      "log_status = 'OK' AND (host(srcaddr)::text IN (SELECT key FROM candidates) OR host(srcaddr)::text IS NULL) " +
        'AND (window_start < $5 OR window_start >= $6) AND NOT window_start - window_start % 600 = ANY (ARRAY(SELECT slot FROM unsealed)) GROUP BY 1',
    );
    expect(sql.text).toContain(
      'fresh AS MATERIALIZED (SELECT host(srcaddr) AS key, (window_start >= $12 AND window_start < $13) AS day, coalesce(sum(bytes), 0)::bigint AS bytes, ',
    );
    expect(sql.text).toContain('UNION SELECT key::text FROM fresh), ');
    expect(sql.text).toContain(
      'SELECT key, bytes, packets, flows, 0::bigint, 0, day, CASE WHEN day THEN 0 ELSE bytes END::numeric, CASE WHEN day THEN 0 ELSE flows END::numeric FROM fresh UNION ALL ',
    );
    // The pending rows of the days touched, read once; those of the whole slots summed.
    expect(sql.text).toContain(
      'pending AS MATERIALIZED (SELECT host(srcaddr) AS key, window_start, bytes, packets FROM flow_rollup_pending WHERE log_topic_id = $7 AND account_id = $8 AND window_start >= $14 AND window_start < $15)',
    );
    expect(sql.text).toContain('FROM pending WHERE window_start >= $5 AND window_start < $6');
    // The slots not sealed yet, of the range's records, from the records, not from their pending rows.
    expect(sql.text).toContain(
      'unsealed AS (SELECT slot FROM flow_rollup_slot_rest WHERE log_topic_id = $7 AND account_id = $8 AND dimension = $9 AND NOT sealed AND slot >= $20 AND slot < $21)',
    );
    expect(sql.text).toContain(
      "log_status = 'OK' AND window_start >= (SELECT min(slot) FROM unsealed) AND window_start < (SELECT max(slot) FROM unsealed) + 600 " +
        'AND window_start - window_start % 600 = ANY (ARRAY(SELECT slot FROM unsealed)) GROUP BY 1, 2)',
    );
    expect(sql.text).toContain(
      'AND window_start - window_start % 600 <> ALL (ARRAY(SELECT slot FROM unsealed)) AND (key::text IN (SELECT key FROM candidates) OR key::text IS NULL) GROUP BY 1, 7',
    );
    expect(sql.text).toContain(
      'FROM flow_rollup_slot k LEFT JOIN rest r USING (slot) WHERE k.log_topic_id = $7 AND k.account_id = $8 AND k.dimension = $9 AND ((k.slot >= $10 AND k.slot < $11))',
    );
    // The candidates' daily totals, whole days and the others, by their keys.
    expect(sql.text).toContain(
      'FROM flow_rollup_daily WHERE log_topic_id = $7 AND account_id = $8 AND dimension = $9 AND day = ANY ($18::bigint[]) AND key = ANY (ARRAY(SELECT key FROM candidates))',
    );
    expect(sql.text).toContain(
      'SELECT key::text, 0, 0, 0, 0::bigint, 0, false, bytes::numeric, flows::numeric FROM flow_rollup_daily WHERE log_topic_id = $7 AND account_id = $8 AND dimension = $9 AND day = ANY ($17::bigint[]) AND key IS NULL',
    );
    expect(sql.text).toMatch(/ORDER BY bytes DESC, key LIMIT \$16\), .* ORDER BY bytes DESC, key$/);
    // A key is exact when every slot that dropped keys kept it, or when its daily totals of the partial
    // days hold no more records than it has there (none of its records is missing).
    expect(sql.text).toContain('t.sealed = b.sealed OR t.cap_flows <= t.partial_flows AS exact');
    expect(sql.values.slice(4)).toEqual([
      2 * DAY,
      9 * DAY - 600,
      'topic-1',
      '123456789012',
      'srcaddr',
      8 * DAY,
      9 * DAY - 600,
      2 * DAY,
      8 * DAY,
      // The days the slots and edges lie in, whose daily totals bound what sealed slots dropped.
      DAY,
      9 * DAY,
      10,
      [DAY, 8 * DAY],
      [2 * DAY, 3 * DAY, 4 * DAY, 5 * DAY, 6 * DAY, 7 * DAY],
      // How many days those are: a key below the floor / 8 in each of them cannot reach the answer.
      8,
      // The slots of the range's records: from the one of the earliest window overlapping it.
      2 * DAY - 1200,
      9 * DAY - 17,
    ]);
    expect(sql.text).toContain(
      'candidates AS (SELECT key FROM flow_rollup_daily WHERE log_topic_id = $7 AND account_id = $8 AND dimension = $9 AND day >= $14 AND day < $15 AND bytes * $19::int >= (SELECT v FROM floor_value)',
    );
    // Keys keep the records' type: numbers as numbers.
    expect(topRollupSql(week, { by: 'dstport', metric: 'flows', limit: 10 })!.text).toContain(
      'SELECT key::integer, bytes',
    );
    expect(topRollupSql(week, { by: 'interfaceId', metric: 'flows', limit: 10 })!.text).toContain(
      'SELECT key::text, bytes, packets, flows, slack, sealed, false, 0::numeric, 0::numeric FROM kept',
    );
    // Without a whole slot there is nothing for the rollups to answer.
    expect(
      topRollupSql({ ...week, from: 601, to: 1199 }, { by: 'srcaddr', metric: 'bytes', limit: 10 }),
    ).toBeUndefined();
  });

  it('sums protocols and actions from the series, with a query on those; other keys with a query from the records', () => {
    const rejected = { ...scope, where: parseQuery('action:REJECT') };
    const { text, values } = topRollupSql(rejected, { by: 'protocol', metric: 'packets', limit: 5 })!;
    expect(text).toMatch(
      /^SELECT protocol AS key, sum\(bytes\)::bigint AS bytes, .*, true AS certain FROM \(SELECT window_start, action, protocol, bytes, packets, flows FROM flow_rollup_series WHERE .* action = \$5 UNION ALL .* FROM flow_rollup_pending WHERE .* action = \$10\) AS w GROUP BY 1 ORDER BY packets DESC, 1 LIMIT \$11$/,
    );
    expect(values.at(-1)).toBe(5);
    // The series answers any range, even one without a whole slot.
    expect(
      topRollupSql({ ...scope, from: 601, to: 1199, where: undefined }, { by: 'action', metric: 'bytes', limit: 2 }),
    ).toBeDefined();
    // A well-known port is in the series, another is not.
    expect(
      topRollupSql({ ...scope, where: parseQuery('dstport:443') }, { by: 'protocol', metric: 'bytes', limit: 5 })!.text,
    ).toMatch(/FROM flow_rollup_series WHERE .* dstport = \$5 UNION ALL /);
    expect(
      topRollupSql({ ...scope, where: parseQuery('dstport:8443') }, { by: 'protocol', metric: 'bytes', limit: 5 }),
    ).toBeUndefined();
    expect(topRollupSql(rejected, { by: 'srcaddr', metric: 'bytes', limit: 5 })).toBeUndefined();
  });

  it('reads a facet of the levels for a query that is exactly one (action:REJECT), not certain where they lack it', () => {
    const week = { ...scope, from: 2 * DAY - 17, to: 9 * DAY - 17 };
    const top = (q: string) =>
      topRollupSql({ ...week, where: parseQuery(q) }, { by: 'dstport', metric: 'bytes', limit: 5 });
    const { text, values } = top('action:reject')!;
    expect(values).toContain('dstport:REJECT');
    // The records read carry the query (the scope's), the pending rows the facet's condition.
    expect(text).toMatch(/FROM flow_records WHERE [^)]* AND action = \$5 AND log_status = 'OK'/);
    expect(text).toMatch(
      /FROM flow_rollup_pending WHERE log_topic_id = \$\d+ AND account_id = \$\d+ AND action = \$\d+ AND window_start/,
    );
    expect(text).toMatch(
      /UNION ALL SELECT NULL, 0, 0, 0, false, false, false WHERE NOT coalesce\(\(SELECT since FROM flow_rollup_facets WHERE facet = \$\d+\) <= \$\d+, false\) ORDER BY bytes DESC, key$/,
    );
    expect(facetOf(parseQuery('action:REJECT'))).toBe('REJECT');
    for (const q of [
      'action:ACCEPT',
      'NOT action:REJECT',
      'action:REJECT dstport:443',
      'action:REJECT OR protocol:6',
    ]) {
      expect(facetOf(parseQuery(q)), q).toBeUndefined();
      expect(top(q), q).toBeUndefined();
    }
    expect(top('dstport:443')).toBeUndefined();
  });

  it('answers histograms and action totals from the series, unless the query names another field or port', () => {
    expect(seriesAnswers(undefined)).toBe(true);
    expect(seriesAnswers(parseQuery('action:REJECT AND NOT (protocol:6 OR protocol:17)'))).toBe(true);
    // Well-known ports exactly: the series keeps every other port as -1.
    expect(seriesAnswers(parseQuery('action:REJECT dstport:443'))).toBe(true);
    expect(seriesAnswers(parseQuery('NOT srcport:22 OR dstport:1023'))).toBe(true);
    expect(seriesAnswers(parseQuery('dstport:1024'))).toBe(false);
    expect(seriesAnswers(parseQuery('dstport:>100'))).toBe(false);
    expect(seriesAnswers(parseQuery('dstport:[22 TO 80]'))).toBe(false);
    expect(seriesAnswers(parseQuery('action:REJECT OR srcaddr:10.0.0.1'))).toBe(false);
    expect(seriesAnswers(parseQuery('10.0.0.1'))).toBe(false);
    const open = { ...scope, where: parseQuery('protocol:17') };
    const series = histogramSql(open, 60);
    expect(series.source).toBe('rollups');
    expect(series.text).toMatch(
      /^SELECT \$\d+::bigint \+ greatest\(0, \(window_start - \$\d+::bigint\) \/ \$\d+::bigint\) \* \$\d+::bigint AS start, .* FROM \(SELECT window_start, action, protocol, bytes, packets, flows FROM flow_rollup_series WHERE .* protocol = \$5 UNION ALL .* FROM flow_rollup_pending WHERE /,
    );
    expect(histogramSql(scope, 60).source).toBe('rollups');
    expect(histogramSql({ ...scope, where: parseQuery('dstport:8080') }, 60).source).toBe('records');
    expect(histogramSql(open, 60, { rollup: false }).text).toContain('FROM flow_records WHERE');
    expect(histogramSql(scope, 60).values.slice(-2)).toEqual([1000, 60]);
    expect(actionsSql(open).text).toMatch(/FROM flow_rollup_series .* GROUP BY action$/);
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
    expect(histogramBuckets(rows, { from: 1000, to: 1150 }, 60, 'rollups')).toEqual({
      source: 'rollups',
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
