import type { Logger } from './logger.js';

export interface Service {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a service and stops it gracefully on SIGTERM/SIGINT; a second signal exits at once. A start
 * that fails (Kafka or Postgres not there yet) is cleaned up and tried again, with growing pauses.
 */
export async function runUntilSignal(service: Service, log: Logger): Promise<void> {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal, exiting now');
      process.exit(130);
    }
    stopping = true;
    log.info({ signal }, 'stopping');
    service.stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err) => {
        log.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  for (let attempt = 1; !stopping; attempt++) {
    try {
      await service.start();
      return;
    } catch (err) {
      const retryMs = Math.min(10_000, 500 * 2 ** Math.min(attempt, 5));
      log.error({ err, attempt, retryMs }, 'start failed; retrying');
      await service.stop().catch((stopErr) => log.warn({ err: stopErr }, 'cleanup after a failed start failed'));
      await new Promise((r) => setTimeout(r, retryMs));
    }
  }
}
