/**
 * The Node flags each service runs with, wherever it is started: `flowlogs up`, the benchmarks, and
 * the image's deploy/docker/entrypoint.sh, which says the same in shell (a test checks the two agree).
 *
 * The publisher's young generation may grow to semi-spaces of 64 MB (V8's default: 16 MB). A batch's
 * records live from their fetch through their store to their delivery; with 16 MB most were promoted
 * and collected again by the old generation's marking. In five alternated records-heavy runs its CPU
 * fell by a tenth (median 15.8 → 14.2 s), its peak RSS grew by ~40 MB (docs/performance.md). The
 * agent, which runs on every host, and the aggregator, whose memory per open flow is an aim, keep
 * V8's default.
 */
export const SERVICE_NODE_FLAGS = {
  'control-plane': [],
  'capture-agent': [],
  aggregator: [],
  publisher: ['--max-semi-space-size=64'],
} as const satisfies Record<string, readonly string[]>;

export type ServiceName = keyof typeof SERVICE_NODE_FLAGS;
