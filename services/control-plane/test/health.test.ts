import { describe, expect, it } from 'vitest';
import { topicNames } from '@flowlogs/contracts';
import { consumerLag, flowLogHealth, flowLogHealthSql, pipelineConsumers } from '../src/health.js';

describe('health', () => {
  it('sums high watermark minus committed offset, from the low watermark without a commit', () => {
    const watermarks = [
      { partition: 0, low: '0', high: '10' },
      { partition: 1, low: '5', high: '8' },
      { partition: 2, low: '0', high: '4' },
    ];
    expect(
      consumerLag(watermarks, [
        { partition: 0, offset: '7' },
        { partition: 1, offset: '-1' },
      ]),
    ).toBe(3 + 3 + 4);
    expect(
      consumerLag(watermarks, [
        { partition: 0, offset: '10' },
        { partition: 1, offset: '8' },
        { partition: 2, offset: '4' },
      ]),
    ).toBe(0);
  });

  it('names the pipeline consumer groups', () => {
    expect(pipelineConsumers(topicNames('fl'))).toEqual([
      { group: 'fl.aggregator', topic: 'fl.packets' },
      { group: 'fl.publisher', topic: 'fl.records' },
    ]);
  });

  it('scopes the flow log by account, values as parameters', () => {
    const { text, values } = flowLogHealthSql('123456789012', 'fl-1', 5000);
    expect(text).toContain('flow_log_id = $1 AND account_id = $2');
    expect(values).toEqual(['fl-1', '123456789012', 5000]);
    expect(
      flowLogHealth({ last_record_at: null, recent: 25, skipdata_records: 1, skipdata_packets: 7, nodata_records: 2 }),
    ).toEqual({ lastRecordAt: null, recordsPerMinute: 2.5, skipdata: { records: 1, packets: 7 }, nodata: 2 });
  });
});
