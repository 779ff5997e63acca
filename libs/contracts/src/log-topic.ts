import { z } from 'zod';
import { RecordFormat } from './format.js';

/**
 * What the publisher needs of a log topic, as the control plane publishes it on the compacted
 * log-topics topic (key: id; a tombstone when the log topic is deleted) at every change of the log
 * topic or of its logset's retention.
 */
export const LogTopicSettings = z.object({
  id: z.string(),
  /** The Kafka topic its records are delivered to. */
  kafkaTopic: z.string(),
  format: RecordFormat,
  /** Its logset's retention: its records are kept this many days. */
  retentionDays: z.number().int().positive(),
});
export type LogTopicSettings = z.infer<typeof LogTopicSettings>;
