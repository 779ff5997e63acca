import type { Message } from 'kafkajs';

/** The dead-letter message for an input that could not be processed: the original bytes, the error in headers. */
export function deadLetter(
  source: { topic: string; partition: number; offset: string; key: Buffer | null; value: Buffer | null },
  error: unknown,
): Message {
  return {
    key: `${source.topic}/${source.partition}/${source.offset}`,
    value: source.value,
    headers: {
      'flowlogs-error': error instanceof Error ? error.message : String(error),
      // An error may name its kind (e.g. an untrusted packet batch's), for consumers of the DLQ to filter on.
      ...(typeof (error as { reason?: unknown })?.reason === 'string'
        ? { 'flowlogs-reason': (error as { reason: string }).reason }
        : {}),
      'flowlogs-source-topic': source.topic,
      'flowlogs-source-partition': String(source.partition),
      'flowlogs-source-offset': source.offset,
      ...(source.key ? { 'flowlogs-source-key': source.key } : {}),
    },
  };
}
