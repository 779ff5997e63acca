/**
 * Where a partition's consumer offset may be committed, and what the restarted aggregator must
 * know to replay from there without emitting anything twice. Pure.
 */
export interface CommitMetadata {
  /** Windows ending at or before this (unix s) were emitted. */
  emittedThrough: number;
  /** The highest offset processed when this commit was made: replayed input up to it was counted already. */
  processedThrough: number;
}

/** The offset to commit: the first message still held by an open window, or the next one when none is. */
export function commitOffset(minOpenPosition: number | undefined, lastProcessed: number): number {
  return minOpenPosition ?? lastProcessed + 1;
}

export function encodeCommitMetadata(m: CommitMetadata): string {
  return JSON.stringify({ e: Number.isFinite(m.emittedThrough) ? m.emittedThrough : null, p: m.processedThrough });
}

export function decodeCommitMetadata(text: string | null | undefined): CommitMetadata | undefined {
  if (!text) return undefined;
  try {
    const { e, p } = JSON.parse(text) as { e: number | null; p: number };
    if (typeof p !== 'number') return undefined;
    return { emittedThrough: e ?? -Infinity, processedThrough: p };
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
