import { createKafka } from '@flowlogs/kafka';
import { createLogger, createRegistry, runUntilSignal } from '@flowlogs/runtime';
import { loadConfig } from './config.js';
import { Publisher } from './publisher.js';

const config = loadConfig();
const log = createLogger('publisher', config.LOG_LEVEL);
const kafka = createKafka(config.KAFKA_BROKERS, 'flowlogs-publisher', log, config);
await runUntilSignal(new Publisher({ config, log, kafka, registry: createRegistry('publisher') }), log);
