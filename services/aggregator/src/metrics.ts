import { Counter, Gauge, type Registry } from 'prom-client';

export function aggregatorMetrics(registry: Registry) {
  return {
    packets: new Counter({
      name: 'flowlogs_aggregator_packets_total',
      help: 'Packet events read from the packets topic',
      registers: [registry],
    }),
    skippedPackets: new Counter({
      name: 'flowlogs_aggregator_skipped_packets_total',
      help: 'Packets reported as SKIPDATA instead of counted in a flow: late (window emitted) or capacity (flow cap)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    records: new Counter({
      name: 'flowlogs_aggregator_records_total',
      help: 'Flow records written, by log status',
      labelNames: ['log_status'],
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'flowlogs_aggregator_dead_letters_total',
      help: 'Packet batches that could not be decoded, sent to the DLQ',
      registers: [registry],
    }),
    untrustedBatches: new Counter({
      name: 'flowlogs_aggregator_untrusted_batches_total',
      help: 'Packet batches not provably from the agent their ENI is bound to (unbound ENI, unsigned, another agent, bad signature), sent to the DLQ',
      labelNames: ['reason'],
      registers: [registry],
    }),
    transactions: new Counter({
      name: 'flowlogs_aggregator_transactions_total',
      help: 'Kafka transactions committed',
      registers: [registry],
    }),
    activeFlows: new Gauge({
      name: 'flowlogs_aggregator_active_flows',
      help: 'Flows held in open windows',
      registers: [registry],
    }),
    rules: new Gauge({ name: 'flowlogs_aggregator_rules', help: 'Flow-log rules known', registers: [registry] }),
  };
}
export type AggregatorMetrics = ReturnType<typeof aggregatorMetrics>;
