import { parseConfig, createLogger, runUntilSignal } from '@flowlogs/runtime';
import { createKafka } from '@flowlogs/kafka';
import { ControlPlane } from './control-plane.js';
import { ControlPlaneConfig } from './config.js';

const config = parseConfig(ControlPlaneConfig);
const log = createLogger('control-plane', config.LOG_LEVEL);
const kafka = createKafka(config.KAFKA_BROKERS, 'flowlogs-control-plane', log);
await runUntilSignal(new ControlPlane({ config, log, kafka }), log);
