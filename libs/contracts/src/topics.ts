/** Kafka topic names; the prefix lets several installations (or test runs) share a cluster. */
export function topicNames(prefix: string) {
  return {
    packets: `${prefix}.packets`,
    rules: `${prefix}.rules`,
    records: `${prefix}.records`,
    dlq: `${prefix}.dlq`,
    logTopic: (logTopicId: string) => `${prefix}.topic.${logTopicId}`,
  };
}
export type TopicNames = ReturnType<typeof topicNames>;
