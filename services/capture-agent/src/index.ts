/**
 * The capture agent's public API: what the CLI, the benchmarks and the end-to-end tests use. Everything
 * else under src/ is the service's own.
 */
export { CaptureAgent, type CaptureAgentDeps } from './capture-agent.js';
export {
  AgentFile,
  CaptureAgentConfig,
  EniSource,
  ReplaySpeed,
  loadAgentFile,
  loadConfig,
  parseAgentFile,
} from './config.js';
export { checkAgent, type CheckResult } from './check.js';
export { agentEnvironment, runAgent } from './run.js';
export { replayCapture, type ReplayOptions, type ReplayProgress } from './replay.js';
export { NFLOG_LATENESS_S } from './sources/live-source.js';
export {
  bindAgent,
  fetchEni,
  registerEni,
  requireWritingKey,
  type EniInfo,
  type EniRegistration,
} from './inventory.js';
// The agent's send path piece by piece, for bench:capture's stage timings.
export { BatchQueue, type QueuedBatch } from './batch-queue.js';
export { EniStream } from './eni-stream.js';
export { fileSource } from './sources/file-source.js';
// A source of one's own on the agent's send path (the event-time test's live ENI).
export { sendQueued } from './sender.js';
export type { CaptureSource } from './sources/source.js';
