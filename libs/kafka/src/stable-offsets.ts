/**
 * A group's committed offsets as they stand once every transaction that commits offsets for them has
 * completed: OffsetFetch v7 with require_stable (KIP-447). The group coordinator applies a
 * transaction's offsets only when its commit marker reaches it, after the transaction coordinator has
 * let a new producer in; a plain OffsetFetch (kafkajs speaks up to v4) answers the offset from before
 * that transaction meanwhile, and a publisher taking a partition over delivered a batch to its log
 * topic twice on it (a rolling restart of the brokers moved the coordinators mid-commit). With
 * require_stable the broker answers UNSTABLE_OFFSET_COMMIT until the offsets are final.
 *
 * kafkajs has no such request, nor a way to send one: its admin module is replaced in the require
 * cache (module-cache.ts) by a wrapper whose admins also have `fetchStableOffsets`, which sends the
 * request over kafkajs's own connection to the group coordinator (TLS and SASL included). Like the
 * other replacements it must be evaluated before kafkajs is: client.ts imports it first.
 */
import type { Admin } from 'kafkajs';
import { kafkajsRequire as require, replaceModule } from './module-cache.js';

const ADMIN_MODULE = require.resolve('kafkajs/src/admin/index.js');
const KAFKA_MODULE = require.resolve('kafkajs/src/index.js');
const ENCODER_MODULE = require.resolve('kafkajs/src/protocol/encoder.js');
const DECODER_MODULE = require.resolve('kafkajs/src/protocol/decoder.js');
const ERROR_MODULE = require.resolve('kafkajs/src/protocol/error.js');

const OFFSET_FETCH = 9;
const UNSTABLE_OFFSET_COMMIT = 88;

interface Encoder {
  writeInt32(v: number): Encoder;
  writeBoolean(v: boolean): Encoder;
  writeUVarInt(v: number): Encoder;
  writeUVarIntString(v: string): Encoder;
}
interface Decoder {
  readInt16(): number;
  readInt32(): number;
  readInt64(): { toString(): string };
  readUVarIntString(): string | null;
  readUVarIntArray<T>(reader: (d: Decoder) => T): T[] | null;
  readTaggedFields(): unknown;
}
interface Broker {
  connectionPool: { send(request: unknown): Promise<unknown> };
}
interface Cluster {
  findGroupCoordinator(args: { groupId: string }): Promise<Broker>;
}

/** One partition's committed offset (-1: none) and its metadata (null: none), or `unstable` while a transaction's offsets for it are pending. */
export interface StableOffset {
  partition: number;
  offset: string;
  metadata: string | null;
  unstable: boolean;
}

export interface StableOffsetsAdmin extends Admin {
  fetchStableOffsets(args: { groupId: string; topic: string; partitions: number[] }): Promise<StableOffset[]>;
}

/** The request: OffsetFetch v7 (a flexible version), require_stable set. */
function offsetFetchV7(groupId: string, topic: string, partitions: number[]) {
  const Encoder = require(ENCODER_MODULE) as new () => Encoder;
  return {
    apiKey: OFFSET_FETCH,
    apiVersion: 7,
    apiName: 'OffsetFetch',
    encode: async () => {
      // kafkajs writes request header v1; a flexible request's header v2 adds (empty) tagged fields after it.
      const body = new Encoder().writeUVarInt(0).writeUVarIntString(groupId).writeUVarInt(2).writeUVarIntString(topic);
      body.writeUVarInt(partitions.length + 1);
      for (const partition of partitions) body.writeInt32(partition);
      return body.writeUVarInt(0).writeBoolean(true).writeUVarInt(0);
    },
  };
}

/** The response after its correlation id (pure but for kafkajs's Decoder). */
function decodeOffsetFetchV7(payload: Buffer): {
  errorCode: number;
  partitions: (StableOffset & { errorCode: number })[];
} {
  const Decoder = require(DECODER_MODULE) as new (b: Buffer) => Decoder;
  const decoder = new Decoder(payload);
  decoder.readTaggedFields(); // response header v1
  decoder.readInt32(); // throttle_time_ms
  const topics =
    decoder.readUVarIntArray((t) => {
      t.readUVarIntString();
      const partitions =
        t.readUVarIntArray((p) => {
          const partition = p.readInt32();
          const offset = p.readInt64().toString();
          p.readInt32(); // committed_leader_epoch
          const metadata = p.readUVarIntString();
          const errorCode = p.readInt16();
          p.readTaggedFields();
          return { partition, offset, metadata, errorCode, unstable: errorCode === UNSTABLE_OFFSET_COMMIT };
        }) ?? [];
      t.readTaggedFields();
      return partitions;
    }) ?? [];
  const errorCode = decoder.readInt16();
  return { errorCode, partitions: topics.flat() };
}

const response = {
  decode: async (payload: Buffer) => decodeOffsetFetchV7(payload),
  parse: async (data: ReturnType<typeof decodeOffsetFetchV7>) => {
    const { createErrorFromCode, failure } = require(ERROR_MODULE) as {
      createErrorFromCode(code: number): Error;
      failure(code: number): boolean;
    };
    // A group-level error (the coordinator loading or moving) is kafkajs's, retriable as its own are.
    if (failure(data.errorCode) && data.errorCode !== UNSTABLE_OFFSET_COMMIT) throw createErrorFromCode(data.errorCode);
    const failed = data.partitions.find((p) => failure(p.errorCode) && !p.unstable);
    if (failed) throw createErrorFromCode(failed.errorCode);
    const groupUnstable = data.errorCode === UNSTABLE_OFFSET_COMMIT;
    return data.partitions.map(({ partition, offset, metadata, unstable }) => ({
      partition,
      offset,
      // Kafka keeps no metadata as ""; kafkajs's own read answers null for it, as this one does.
      metadata: metadata || null,
      unstable: unstable || groupUnstable,
    }));
  },
};

function install(): boolean {
  if (require.cache[KAFKA_MODULE]) return false;
  type CreateAdmin = (opts: { cluster: Cluster; retry?: unknown }) => Admin;
  const createAdmin = require(ADMIN_MODULE) as CreateAdmin;
  replaceModule(ADMIN_MODULE, (opts: Parameters<CreateAdmin>[0]): StableOffsetsAdmin => {
    const admin = createAdmin(opts);
    return Object.assign(admin, {
      async fetchStableOffsets({
        groupId,
        topic,
        partitions,
      }: {
        groupId: string;
        topic: string;
        partitions: number[];
      }) {
        const coordinator = await opts.cluster.findGroupCoordinator({ groupId });
        return (await coordinator.connectionPool.send({
          request: offsetFetchV7(groupId, topic, partitions),
          response,
        })) as StableOffset[];
      },
    });
  });
  return true;
}

/** Whether kafkajs's admins can read stable offsets (false: kafkajs was loaded before @flowlogs/kafka). */
export const stableOffsetsInstalled = install();

/** The admin's stable-offset read; throws when kafkajs was loaded before this module could add it. */
export function stableOffsetsOf(admin: Admin): StableOffsetsAdmin['fetchStableOffsets'] {
  const read = (admin as Partial<StableOffsetsAdmin>).fetchStableOffsets;
  if (!read)
    throw new Error(
      'kafkajs was loaded before @flowlogs/kafka: its admins cannot read stable offsets (stable-offsets.ts)',
    );
  return read;
}
