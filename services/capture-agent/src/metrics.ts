import { Counter, type Registry } from 'prom-client';

export function agentMetrics(registry: Registry) {
  return {
    packets: new Counter({ name: 'flowlogs_agent_packets_total', help: 'Frames read from capture sources', labelNames: ['eni'], registers: [registry] }),
    skipped: new Counter({ name: 'flowlogs_agent_skipped_packets_total', help: 'Frames not turned into packet events, by reason', labelNames: ['eni', 'reason'], registers: [registry] }),
    batches: new Counter({ name: 'flowlogs_agent_batches_total', help: 'Packet batches published', labelNames: ['eni'], registers: [registry] }),
  };
}
export type AgentMetrics = ReturnType<typeof agentMetrics>;
