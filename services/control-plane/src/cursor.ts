/** The position after the last record of a page: records are ordered by (window_start, record_id). */
export interface Cursor {
  windowStart: number;
  recordId: string;
}

/** Opaque to clients (base64url JSON) so the ordering can change without breaking the API's shape. */
export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.windowStart, cursor.recordId])).toString('base64url');
}

/** The cursor in `s`, or undefined when `s` is not one of ours. */
export function decodeCursor(s: string): Cursor | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && Number.isSafeInteger(value[0]) && typeof value[1] === 'string') {
      return { windowStart: value[0], recordId: value[1] };
    }
  } catch {
    // not JSON: falls through to undefined
  }
  return undefined;
}
