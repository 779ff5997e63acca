/**
 * The live tail: GET /v1/log-topics/:id/tail as Server-Sent Events, read with fetch() so the API key
 * travels in the Authorization header (EventSource cannot send one, and keys stay out of URLs).
 */
import { request } from '../api.js';

/**
 * Calls `onRecord` for each `event: record` until `signal` aborts; rejects with ApiError when the
 * tail is refused (404: no tail endpoint, 400: a bad query), resolves when the stream ends.
 * @param {string} logTopicId
 * @param {string} q
 * @param {AbortSignal} signal
 * @param {(record: any) => void} onRecord
 * @param {() => void} [onOpen]  the server answered: records published from now on will come
 */
export async function tail(logTopicId, q, signal, onRecord, onOpen) {
  const res = await request('GET', `/v1/log-topics/${encodeURIComponent(logTopicId)}/tail`, { query: { q }, signal });
  onOpen?.();
  const reader = /** @type {ReadableStream<Uint8Array>} */ (res.body).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = parseEvent(block);
        if (event.event === 'record' && event.data) onRecord(JSON.parse(event.data));
      }
    }
  } catch (err) {
    if (!signal.aborted) throw err;
  }
}

/** One SSE block's event name and data (comments, ": keepalive", have neither). @param {string} block */
function parseEvent(block) {
  let event = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  return { event, data: data.join('\n') };
}
