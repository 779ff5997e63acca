/** A cluster's routine conditions log at warn once per episode, with a count; other kafkajs errors stay errors. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { TransientLog, transientCondition } from '../src/transient-log.js';

describe('transientCondition', () => {
  it('knows the lines of a broker away, a coordinator loading, a rebalance and a moving leader', () => {
    expect(transientCondition('Connection error: connect ECONNREFUSED 127.0.0.1:19110')).toBe('broker unreachable');
    expect(transientCondition('Failed to send messages: Connection error: connect ECONNREFUSED 127.0.0.1:9092')).toBe(
      'broker unreachable',
    );
    expect(
      transientCondition(
        'Response InitProducerId(key: 22, version: 1)',
        "The coordinator is loading and hence can't process requests for this group",
      ),
    ).toBe('coordinator loading');
    expect(
      transientCondition('Response Heartbeat(key: 12, version: 3)', 'The group is rebalancing, so a rejoin is needed'),
    ).toBe('group rebalancing');
    expect(
      transientCondition(
        'Response Metadata(key: 3, version: 6)',
        'There is no leader for this topic-partition as we are in the middle of a leadership election',
      ),
    ).toBe('leadership moving');
    expect(
      transientCondition('Response Produce(key: 0, version: 7)', 'This server does not host this topic-partition'),
    ).toBe('leadership moving');
    expect(
      transientCondition(
        'Failed to send messages: The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing',
      ),
    ).toBe('previous transaction completing');
  });

  it('leaves what means something alone', () => {
    expect(
      transientCondition(
        'Response Produce(key: 0, version: 7)',
        'Not authorized to access topics: [Topic authorization failed]',
      ),
    ).toBeUndefined();
    expect(
      transientCondition(
        'Crash: KafkaJSNonRetriableError: The producer attempted to use a producer id which is not currently assigned',
      ),
    ).toBeUndefined();
  });
});

describe('TransientLog', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('logs the first line of an episode at warn and its count once it is over', () => {
    vi.useFakeTimers();
    const lines: { level: number; msg: string; count?: number }[] = [];
    const log = pino(
      { level: 'warn' },
      {
        write: (s: string) => {
          lines.push(JSON.parse(s));
        },
      },
    );
    const transient = new TransientLog(log, 10_000);
    for (let i = 0; i < 40; i++) {
      transient.report('broker unreachable', 'Connection error: connect ECONNREFUSED', {});
      vi.advanceTimersByTime(500);
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, condition: 'broker unreachable' });
    vi.advanceTimersByTime(9_000);
    expect(lines).toHaveLength(1);
    vi.advanceTimersByTime(1_000);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ level: 40, condition: 'broker unreachable', count: 40, seconds: 20 });
    // A new episode starts with its own first line.
    transient.report('broker unreachable', 'Connection error: connect ECONNREFUSED', {});
    expect(lines).toHaveLength(3);
  });
});
