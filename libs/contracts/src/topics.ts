/** Kafka topic names; the prefix lets several installations (or test runs) share a cluster. */
export function topicNames(prefix: string) {
  return {
    packets: `${prefix}.packets`,
    rules: `${prefix}.rules`,
    /** Compacted: each log topic's LogTopicSettings, for the publisher. */
    logTopicSettings: `${prefix}.log-topics`,
    /** Compacted, key account/ENI id (bindingKey): each ENI's binding to its agent (EniBinding); read by the aggregator only. */
    inventory: `${prefix}.inventory`,
    records: `${prefix}.records`,
    dlq: `${prefix}.dlq`,
    logTopic: (logTopicId: string) => `${prefix}.topic.${logTopicId}`,
  };
}
export type TopicNames = ReturnType<typeof topicNames>;
