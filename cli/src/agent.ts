/** `flowlogs agent`: the capture agent for this host's ENIs, from a config file; `--check` says whether it can run. */
import { agentEnvironment, checkAgent, runAgent } from '@flowlogs/capture-agent';
import { UsageError } from './usage.js';

export const AGENT_USAGE = `usage: flowlogs agent --config FILE [--check] [--debug]

  Captures the ENIs that FILE lists (JSON, see the README's "Running the agent on a host") and sends
  their packets to Kafka, until SIGTERM or Ctrl-C. Environment: FLOWLOGS_API_URL, FLOWLOGS_API_KEY
  (an agent key: POST /v1/api-keys {"role": "agent"}), KAFKA_BROKERS, METRICS_PORT, LOG_LEVEL.

  --config FILE  the agent's config file
  --check        check the file, each interface / netns / nflog group (tcpdump is started and stopped),
                 nft, the right to capture, and the control plane with the key; one line per problem,
                 exit 0 when there is none, 1 otherwise
  --debug        debug logs, and stack traces with errors
  --help         this text
`;

export async function runAgentCommand(o: {
  config?: string;
  check?: boolean;
  debug?: boolean;
  help?: boolean;
}): Promise<void> {
  if (o.help) {
    process.stdout.write(AGENT_USAGE);
    return;
  }
  if (!o.config) throw new UsageError('agent needs --config FILE');
  const config = agentEnvironment(process.env, o.debug ? { LOG_LEVEL: 'debug' } : {});
  if (o.check) {
    const { problems, ok } = await checkAgent(o.config, config);
    for (const line of ok) process.stdout.write(`ok: ${line}\n`);
    for (const line of problems) process.stderr.write(`problem: ${line}\n`);
    process.exitCode = problems.length ? 1 : 0;
    return;
  }
  await runAgent(o.config, config);
}
