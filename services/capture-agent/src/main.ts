import { createKafka } from '@flowlogs/kafka';
import { createLogger, createRegistry, runUntilSignal } from '@flowlogs/runtime';
import { CaptureAgent } from './capture-agent.js';
import { loadConfig, loadEniSources } from './config.js';

const config = loadConfig();
const log = createLogger('capture-agent', config.LOG_LEVEL);
if (!config.FLOWLOGS_AGENT_CONFIG) {
  log.fatal('FLOWLOGS_AGENT_CONFIG must name the JSON file that lists the ENIs this agent owns');
  process.exit(1);
}
const kafka = createKafka(config.KAFKA_BROKERS, 'flowlogs-capture-agent', log);
const enis = loadEniSources(config.FLOWLOGS_AGENT_CONFIG);
await runUntilSignal(new CaptureAgent({ config, log, kafka, registry: createRegistry('capture-agent'), enis }), log);
