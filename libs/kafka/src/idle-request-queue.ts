/**
 * kafkajs 2.2.4 keeps a timer firing about every millisecond on each broker connection, idle or not
 * (kafkajs#1556, #1704; the fix of kafkajs#1667 is not released): its request queue checks for
 * pending requests after every response, and the check schedules the next one even when none is
 * pending, with a delay of "until the throttle ends", which is negative when there is none — so
 * the timer fires at once, checks, and schedules again, forever. Every service has several
 * connections: an idle publisher used 4.6–5.6 % of a core with it, 1.9 % without (docs/performance.md).
 *
 * The fix: a check is scheduled only when a request waits (the broker's throttle, or the 10 ms
 * kafkajs waits when the throttle has just ended); with none pending, a response or a new request
 * starts the queue again, as in kafkajs. kafkajs's request queue module is replaced in the require
 * cache by a subclass (module-cache.ts): like the other replacements this must be evaluated before
 * kafkajs's connections are; client.ts imports it first.
 */
import { kafkajsRequire as require, loadOwn, replaceModule } from './module-cache.js';

const REQUEST_QUEUE_MODULE = require.resolve('kafkajs/src/network/requestQueue/index.js');
const CONNECTION_MODULE = require.resolve('kafkajs/src/network/connection.js');
/** kafkajs's wait before looking again at requests held back by a throttle that has just ended. */
const CHECK_PENDING_REQUESTS_INTERVAL = 10;

/** What of kafkajs's RequestQueue the fix reads and calls. */
export interface RequestQueue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
  destroy(): void;
}
export type RequestQueueClass = new (options: Record<string, unknown>) => RequestQueue;

/** kafkajs's RequestQueue (`Base`) whose check of pending requests is scheduled only while one waits. */
export function idleRequestQueue(Base: RequestQueueClass): RequestQueueClass {
  return class IdleRequestQueue extends Base {
    override scheduleCheckPendingRequests(): void {
      if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
      const throttled = this.throttledUntil - Date.now();
      this.throttleCheckTimeoutId = setTimeout(
        () => {
          this.throttleCheckTimeoutId = null;
          this.checkPendingRequests();
        },
        throttled > 0 ? throttled : CHECK_PENDING_REQUESTS_INTERVAL,
      );
    }
  };
}

/** kafkajs's own RequestQueue, loaded beside the one the require cache holds. */
export const kafkajsRequestQueue = (): RequestQueueClass => loadOwn(REQUEST_QUEUE_MODULE) as RequestQueueClass;

function install(): boolean {
  if (require.cache[CONNECTION_MODULE]) return false;
  replaceModule(REQUEST_QUEUE_MODULE, idleRequestQueue(require(REQUEST_QUEUE_MODULE) as RequestQueueClass));
  return true;
}

/** Whether kafkajs's connections use the fixed request queue (false: kafkajs was loaded first). */
export const idleRequestQueueInstalled = install();
