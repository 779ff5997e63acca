/** Drains the send queue into the packets topic; a send that fails is retried, the queue holding the rest meanwhile. */
import type { Producer } from 'kafkajs';
import { SIGNATURE_HEADER } from '@flowlogs/contracts';
import { MAX_SEND_BYTES, retriedLevel } from '@flowlogs/kafka';
import type { Logger } from '@flowlogs/runtime';
import type { BatchQueue } from './batch-queue.js';

export async function sendQueued(queue: BatchQueue, producer: Producer, topic: string, log: Logger): Promise<void> {
  for (;;) {
    // One ENI's batches share a key, hence a partition: a request's bytes must fit the broker's message limit.
    const batches = await queue.take(MAX_SEND_BYTES);
    if (!batches.length) return;
    for (let attempt = 1; ; attempt++) {
      try {
        await producer.send({
          topic,
          acks: -1,
          messages: batches.map((b) => ({ key: b.key, value: b.value, headers: { [SIGNATURE_HEADER]: b.signature } })),
        });
        break;
      } catch (err) {
        log[retriedLevel(err)](
          { err: (err as Error).message, attempt, queued: queue.length },
          'sending packet batches failed; retrying',
        );
        await new Promise((r) => setTimeout(r, Math.min(5000, 200 * attempt)));
      }
    }
  }
}
