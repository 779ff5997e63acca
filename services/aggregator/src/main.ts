import { createKafka } from '@flowlogs/kafka';
import { createLogger, createRegistry, runUntilSignal } from '@flowlogs/runtime';
import { Aggregator } from './aggregator.js';
import { loadConfig } from './config.js';

const config = loadConfig();
const log = createLogger('aggregator', config.LOG_LEVEL);
const kafka = createKafka(config.KAFKA_BROKERS, 'flowlogs-aggregator', log, config);
await runUntilSignal(new Aggregator({ config, log, kafka, registry: createRegistry('aggregator') }), log);
