/**
 * kafkajs logs at error level what a cluster goes through routinely: a broker away (ECONNREFUSED
 * dozens of times while it restarts), a coordinator loading, a group rebalancing, a leader moving, a
 * transaction started while the previous one's markers are still being written.
 * Those are expected and retried: they log at warn, once per episode (the first line, then how many
 * there were once the episode is over), so that an error line means something.
 */
import type { Logger } from '@flowlogs/runtime';

const CONDITIONS: [condition: string, pattern: RegExp][] = [
  [
    'broker unreachable',
    /ECONNREFUSED|ECONNRESET|EPIPE|Connection error|Connection timeout|Closed connection|Failed to connect/i,
  ],
  ['coordinator loading', /coordinator is loading|COORDINATOR_LOAD_IN_PROGRESS/i],
  ['group rebalancing', /group is rebalancing|REBALANCE_IN_PROGRESS|not aware of this member/i],
  ['previous transaction completing', /another concurrent operation on the same transaction|CONCURRENT_TRANSACTIONS/i],
  [
    'leadership moving',
    /not the correct coordinator|coordinator is not available|no leader for this topic-partition|not the leader|does not host this topic-partition|leader is not available|NOT_ENOUGH_REPLICAS|not enough replicas/i,
  ],
];

/** The transient condition a kafkajs log line reports (its message and error text), or undefined (pure). */
export function transientCondition(message: string, error?: unknown): string | undefined {
  const text = `${message} ${typeof error === 'string' ? error : ''}`;
  return CONDITIONS.find(([, pattern]) => pattern.test(text))?.[0];
}

/** Episodes of transient conditions: one ends after `quietMs` without a line of its condition. */
export class TransientLog {
  private readonly episodes = new Map<string, { count: number; first: number; timer: NodeJS.Timeout }>();

  constructor(
    private readonly log: Logger,
    private readonly quietMs = 30_000,
  ) {}

  report(condition: string, message: string, extra: Record<string, unknown>): void {
    const episode = this.episodes.get(condition);
    if (episode) {
      episode.count++;
      episode.timer.refresh();
      return;
    }
    this.log.warn(
      { ...extra, condition },
      `${message} (expected while it lasts: ${condition}; retried, counted until it stops)`,
    );
    const timer = setTimeout(() => this.end(condition), this.quietMs);
    timer.unref();
    this.episodes.set(condition, { count: 1, first: Date.now(), timer });
  }

  private end(condition: string): void {
    const episode = this.episodes.get(condition);
    this.episodes.delete(condition);
    if (!episode || episode.count < 2) return;
    const seconds = Math.round((Date.now() - episode.first - this.quietMs) / 1000);
    this.log.warn(
      { condition, count: episode.count, seconds },
      `${condition}: ${episode.count} kafkajs lines over ${seconds} s, none since ${this.quietMs / 1000} s`,
    );
  }
}
