import { agentEnvironment, runAgent } from './run.js';

// The agent as a service (containers): FLOWLOGS_AGENT_CONFIG names its file. On a host, `flowlogs agent --config FILE`.
try {
  const config = agentEnvironment();
  if (!config.FLOWLOGS_AGENT_CONFIG)
    throw new Error('FLOWLOGS_AGENT_CONFIG must name the JSON file that lists the ENIs this agent owns');
  await runAgent(config.FLOWLOGS_AGENT_CONFIG, config);
} catch (err) {
  process.stderr.write(`capture-agent: ${(err as Error).message}\n`);
  if (process.env.LOG_LEVEL === 'debug') process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
}
