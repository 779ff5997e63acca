/** `flowlogs <command>`: records (offline), replay (into the running stack), agent, kafka-acls, up (the whole stack). */
import { parseArgs } from 'node:util';
import { reportFailure, UsageError } from './usage.js';

const USAGE = `usage: flowlogs <command> [options] [--debug] (flowlogs <command> --help says more)

  records --pcap FILE [--interval 600] [--format json|text] [--eni ID] [--eni-ip IP]
      decode and window a capture in-process (no Kafka, no Postgres) and print its flow records
  replay --pcap FILE --eni ID [--speed max|capture] [--rebase]
      replay a capture for an ENI into the running stack (FLOWLOGS_API_URL, FLOWLOGS_API_KEY, KAFKA_BROKERS)
  agent --config FILE [--check] [--debug]
      run the capture agent for this host's ENIs (flowlogs agent --help says more)
  kafka-acls [--apply]
      the Kafka users and ACLs of each role for FLOWLOGS_TOPIC_PREFIX, as kafka-configs.sh and
      kafka-acls.sh commands; --apply creates the ACLs (KAFKA_* settings of a super user)
  up
      run the whole stack in the foreground (Kafka, Postgres database, the four services, and a demo
      unless FLOWLOGS_DEMO=0); Ctrl-C stops everything it started
`;

/** Each command's --help (agent's is its own); nothing runs, whatever the other arguments. */
const HELP: Record<string, string> = {
  records: `usage: flowlogs records --pcap FILE [--interval 600] [--format json|text] [--eni ID] [--eni-ip IP] [--debug]

  Decodes and windows a capture (pcap or pcapng) in-process, as the aggregator would (no Kafka, no
  Postgres), and prints its flow records. A file that is not a capture is an error (exit 1).
`,
  replay: `usage: flowlogs replay --pcap FILE --eni ID [--speed max|capture] [--rebase] [--debug]

  Replays a capture for an ENI into the running stack. Environment: FLOWLOGS_API_URL, FLOWLOGS_API_KEY
  (an agent or admin key), KAFKA_BROKERS, FLOWLOGS_TOPIC_PREFIX.
  --speed max      as fast as it goes (default); capture: with the capture's own spacing
  --rebase         the packets' times moved to now: at capture speed each packet is stamped when it is
                   sent (spacing kept); at max speed too, in capture order (the spacing is not kept:
                   packets stamped in the past would be late for windows the aggregator has closed)
`,
  'kafka-acls': `usage: flowlogs kafka-acls [--apply] [--debug]

  Prints the commands that make the Kafka users (kafka-configs.sh, SCRAM-SHA-512) and ACLs
  (kafka-acls.sh) of each role — User:agent, User:aggregator, User:publisher, User:control-plane,
  User:log-reader — for the topic prefix FLOWLOGS_TOPIC_PREFIX (see the README's Running on a cluster).
  --apply          creates the ACLs instead, through KAFKA_BROKERS with KAFKA_SECURITY_PROTOCOL and the
                   KAFKA_SASL_* / KAFKA_SSL_* settings of a principal allowed to (a super user)
`,
  up: `usage: flowlogs up [--debug]

  Runs the whole stack in the foreground: Kafka (unless KAFKA_BROKERS is set), the Postgres database
  (DATABASE_URL), the four services, and a demo unless FLOWLOGS_DEMO=0. Refuses to start when the API
  port (HTTP_PORT, default 8080) or a service's metrics port is taken. Ctrl-C stops everything it
  started, and the services stop by themselves if \`up\` dies.
`,
};

const [command, ...rest] = process.argv.slice(2);
/** With --debug an error shows its stack; otherwise it is one line. */
const debug = rest.includes('--debug');

function fail(message: string): never {
  process.stderr.write(`flowlogs: ${message}\n\n${USAGE}`);
  process.exit(2);
}

if (command !== undefined && HELP[command] && (rest.includes('--help') || rest.includes('-h'))) {
  process.stdout.write(HELP[command]);
  process.exit(0);
}

try {
  switch (command) {
    case 'records': {
      const { values } = parseArgs({
        args: rest,
        options: {
          debug: { type: 'boolean' },
          pcap: { type: 'string' },
          interval: { type: 'string', default: '600' },
          format: { type: 'string', default: 'json' },
          eni: { type: 'string', default: 'eni-offline' },
          'eni-ip': { type: 'string' },
        },
      });
      const { runRecords } = await import('./records.js');
      await runRecords(values);
      break;
    }
    case 'replay': {
      const { values } = parseArgs({
        args: rest,
        options: {
          debug: { type: 'boolean' },
          pcap: { type: 'string' },
          eni: { type: 'string' },
          speed: { type: 'string', default: 'max' },
          rebase: { type: 'boolean', default: false },
        },
      });
      const { runReplay } = await import('./replay.js');
      await runReplay(values);
      break;
    }
    case 'agent': {
      const { values } = parseArgs({
        args: rest,
        options: {
          config: { type: 'string' },
          check: { type: 'boolean' },
          debug: { type: 'boolean' },
          help: { type: 'boolean' },
        },
      });
      const { runAgentCommand } = await import('./agent.js');
      await runAgentCommand(values);
      break;
    }
    case 'kafka-acls': {
      const { values } = parseArgs({
        args: rest,
        options: { debug: { type: 'boolean' }, apply: { type: 'boolean', default: false } },
      });
      const { runKafkaAcls } = await import('./kafka-acls.js');
      await runKafkaAcls(values);
      break;
    }
    case 'up': {
      parseArgs({ args: rest, options: { debug: { type: 'boolean' } } });
      const { runUp } = await import('./up.js');
      await runUp();
      break;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      break;
    default:
      fail(`unknown command ${command}`);
  }
} catch (err) {
  if (err instanceof Error && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) fail(err.message);
  if (err instanceof UsageError) fail(err.message);
  // What the user must fix (a file, a key, an unreachable API): one line naming it.
  reportFailure(command!, err, debug);
  process.exit(1);
}
