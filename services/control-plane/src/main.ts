import { createKafka } from '@flowlogs/kafka';
import { createLogger, createRegistry, runUntilSignal } from '@flowlogs/runtime';
import { ControlPlane } from './control-plane.js';
import { loadConfig } from './config.js';

const config = loadConfig();
const log = createLogger('control-plane', config.LOG_LEVEL);
const kafka = createKafka(config.KAFKA_BROKERS, 'flowlogs-control-plane', log, config);
await runUntilSignal(new ControlPlane({ config, log, kafka, registry: createRegistry('control-plane') }), log);
