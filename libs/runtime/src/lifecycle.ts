import type { Logger } from './logger.js';

export interface Service {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a service and stops it gracefully on SIGTERM/SIGINT; a second signal exits at once. */
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
      () => { log.info('stopped'); process.exit(0); },
      (err) => { log.error({ err }, 'stop failed'); process.exit(1); },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await service.start();
  } catch (err) {
    log.fatal({ err }, 'start failed');
    process.exit(1);
  }
}
