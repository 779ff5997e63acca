/**
 * Running the agent from a config file (`flowlogs agent --config FILE`, and the service's main with
 * FLOWLOGS_AGENT_CONFIG): the environment and the file checked first, the key refused when it may not
 * write packets, then the agent until a signal.
 */
import { createKafka } from '@flowlogs/kafka';
import { ConfigError, createLogger, createRegistry, runUntilSignal } from '@flowlogs/runtime';
import { CaptureAgent } from './capture-agent.js';
import { type CaptureAgentConfig, loadAgentFile, loadConfig } from './config.js';
import { requireWritingKey } from './inventory.js';

/** The environment's settings, or one line naming every bad variable. */
export function agentEnvironment(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<Record<string, string>> = {},
): CaptureAgentConfig {
  try {
    return loadConfig({ ...env, ...overrides });
  } catch (err) {
    if (err instanceof ConfigError) throw new Error(err.message.replace(/:\n\s*/, ': ').replace(/\n\s*/g, '; '));
    throw err;
  }
}

export async function runAgent(configPath: string, config: CaptureAgentConfig): Promise<void> {
  const file = loadAgentFile(configPath);
  const log = createLogger('capture-agent', config.LOG_LEVEL);
  const account = await requireWritingKey(config.FLOWLOGS_API_URL, config.FLOWLOGS_API_KEY);
  const agentConfig = { ...config, FLOWLOGS_AGENT_ID: file.agentId ?? config.FLOWLOGS_AGENT_ID };
  log.info(
    { agent: agentConfig.FLOWLOGS_AGENT_ID, account: account.id, config: configPath, enis: file.enis.length },
    'capture agent starting',
  );
  const kafka = createKafka(config.KAFKA_BROKERS, 'flowlogs-capture-agent', log, config);
  await runUntilSignal(
    new CaptureAgent({ config: agentConfig, log, kafka, registry: createRegistry('capture-agent'), enis: file.enis }),
    log,
  );
}
