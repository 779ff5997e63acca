/**
 * Where a partition's consumer offset may be committed, and what the restarted aggregator must
 * know to replay from there without emitting anything twice. Pure.
 */
export interface CommitMetadata {
  /** Per ENI (eniKeyOf: account/ENI id) whose input may be replayed: its windows ending at or before this (unix s) were emitted. */
  emitted: Array<[eniKey: string, emittedThrough: number]>;
  /** The highest offset processed when this commit was made: replayed input up to it was counted already. */
  processedThrough: number;
}

/** Kafka's default offset.metadata.max.bytes is 4096; a commit with more metadata fails. */
export const MAX_METADATA_BYTES = 4000;

/** The offset to commit: the first message still held by an open window, or the next one when none is. */
export function commitOffset(minOpenPosition: number | undefined, lastProcessed: number): number {
  return minOpenPosition ?? lastProcessed + 1;
}

/**
 * JSON with the ENIs grouped by their emitted-through second (live ENIs under the same rules share
 * it): `{"p": 41, "e": {"1700000010": ["111122223333/eni-a", "111122223333/eni-b"]}}`. ENIs that would take it past
 * MAX_METADATA_BYTES are left out and counted in `left` (after a restart their replayed input
 * re-emits records the publisher already has: their ids make them no-ops).
 */
export function encodeCommitMetadata(m: CommitMetadata): { text: string; left: number } {
  const groups: Record<string, string[]> = {};
  let size = JSON.stringify({ p: m.processedThrough, e: {} }).length;
  let left = 0;
  for (const [eniKey, through] of m.emitted) {
    const key = String(through);
    const more = groups[key] ? eniKey.length + 3 : key.length + eniKey.length + 8;
    if (size + more > MAX_METADATA_BYTES) {
      left++;
      continue;
    }
    size += more;
    (groups[key] ??= []).push(eniKey);
  }
  return { text: JSON.stringify({ p: m.processedThrough, e: groups }), left };
}

export function decodeCommitMetadata(text: string | null | undefined): CommitMetadata | undefined {
  if (!text) return undefined;
  try {
    const { e, p } = JSON.parse(text) as { e: unknown; p: unknown };
    if (typeof p !== 'number') return undefined;
    const emitted: Array<[string, number]> = [];
    // (A commit of a version that kept one clock per partition has a number here: no ENI is known.
    // One of a version that named ENIs without their account names no key of this one: its replay
    // re-emits records the publisher already has, ignored by their ids.)
    if (e && typeof e === 'object') {
      for (const [through, enis] of Object.entries(e))
        for (const eniKey of enis as string[]) emitted.push([eniKey, Number(through)]);
    }
    return { emitted, processedThrough: p };
  } catch {
    return undefined;
  }
}

/** Splits records into messages of at most `size` records each. */
export function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
