/**
 * kafkajs 2.2.4's read_committed consumers handed out messages of aborted transactions: after a
 * publisher was killed mid-transaction, a kafkajs reader of a log topic counted hundreds to
 * thousands of its aborted records (test/faults/publisher-kill.test.ts failed 3 runs in 8 on a fast
 * machine) where librdkafka (kcat, read_committed) read every record once. kafkajs starts skipping
 * an aborted transaction's producer only when a message reaches the first offset of the *first*
 * entry of the fetch's aborted-transactions list, one entry per message; Kafka lists them in the
 * order their aborts were written, not by first offset, so a transaction that began before the
 * list's first one was read until that one began. This module gives kafkajs a filter that takes
 * every listed transaction whose first offset a message has reached, as Kafka's own consumer does.
 * It goes in the require cache under kafkajs's module (as crc32c.ts does), before kafkajs loads it.
 */
import { kafkajsRequire as require, replaceModule } from './module-cache.js';

const FILTER_MODULE = require.resolve('kafkajs/src/consumer/filterAbortedMessages.js');
const BATCH_MODULE = require.resolve('kafkajs/src/consumer/batch.js');

/** The control record key of a transaction's ABORT marker (version 0, type 0). */
const ABORT_MARKER_KEY = Buffer.from([0, 0, 0, 0]);

/** What the filter reads of a message, as kafkajs decodes it. */
export interface FetchedMessage {
  offset: string;
  key?: Buffer | null;
  batchContext: { producerId: string; inTransaction: boolean; isControlBatch?: boolean };
}

/** An entry of a fetch response's aborted-transactions list. */
export interface AbortedTransaction {
  producerId: string;
  firstOffset: string;
}

const isAbortMarker = (m: FetchedMessage) =>
  m.batchContext.isControlBatch !== false && m.key != null && ABORT_MARKER_KEY.equals(Buffer.from(m.key));

/**
 * The messages (in offset order) less those of aborted transactions: a producer's transactional
 * messages are dropped from its aborted transaction's first offset up to the transaction's ABORT
 * marker. Pure.
 */
export function withoutAborted<M extends FetchedMessage>(
  messages: M[],
  abortedTransactions: AbortedTransaction[] | undefined,
): M[] {
  if (!abortedTransactions?.length) return messages;
  const pending = abortedTransactions
    .map((t) => ({ producerId: String(t.producerId), firstOffset: BigInt(t.firstOffset) }))
    .sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
  const aborting = new Set<string>();
  let next = 0;
  return messages.filter((m) => {
    const offset = BigInt(m.offset);
    while (next < pending.length && offset >= pending[next].firstOffset) aborting.add(pending[next++].producerId);
    const producer = String(m.batchContext.producerId);
    if (isAbortMarker(m)) {
      aborting.delete(producer);
      return true;
    }
    return !(m.batchContext.inTransaction && aborting.has(producer));
  });
}

function install(): boolean {
  if (require.cache[BATCH_MODULE]) return false;
  replaceModule(
    FILTER_MODULE,
    ({ messages, abortedTransactions }: { messages: FetchedMessage[]; abortedTransactions?: AbortedTransaction[] }) =>
      withoutAborted(messages, abortedTransactions),
  );
  return true;
}

/** Whether kafkajs's consumers drop aborted transactions' messages with this filter (false: kafkajs was loaded first). */
export const abortedFilterInstalled = install();
