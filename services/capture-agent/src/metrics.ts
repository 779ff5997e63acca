import { Counter, type Registry } from 'prom-client';

export function agentMetrics(registry: Registry) {
  return {
    packets: new Counter({
      name: 'flowlogs_agent_packets_total',
      help: 'Packet events published, per ENI',
      labelNames: ['eni'],
      registers: [registry],
    }),
    skipped: new Counter({
      name: 'flowlogs_agent_skipped_packets_total',
      help: 'Frames not turned into packet events, by reason',
      labelNames: ['eni', 'reason'],
      registers: [registry],
    }),
    dropped: new Counter({
      name: 'flowlogs_agent_dropped_packets_total',
      help: 'Packets lost before sending (kernel drops, full queue), reported as SKIPDATA',
      labelNames: ['eni'],
      registers: [registry],
    }),
    batches: new Counter({
      name: 'flowlogs_agent_batches_total',
      help: 'Packet batches queued for Kafka',
      labelNames: ['eni'],
      registers: [registry],
    }),
  };
}
export type AgentMetrics = ReturnType<typeof agentMetrics>;
