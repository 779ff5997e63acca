/** `flowlogs <command>`: records (offline), replay (into the running stack), up (the whole stack). */
import { parseArgs } from 'node:util';
import { UsageError } from './usage.js';

const USAGE = `usage: flowlogs <command> [options]

  records --pcap FILE [--interval 600] [--format json|text] [--eni ID] [--eni-ip IP]
      decode and window a capture in-process (no Kafka, no Postgres) and print its flow records
  replay --pcap FILE --eni ID [--speed max|capture] [--rebase]
      replay a capture for an ENI into the running stack (FLOWLOGS_API_URL, FLOWLOGS_API_KEY, KAFKA_BROKERS)
  agent --config FILE [--check] [--debug]
      run the capture agent for this host's ENIs (flowlogs agent --help says more)
  up
      run the whole stack in the foreground (Kafka, Postgres database, the four services, and a demo
      unless FLOWLOGS_DEMO=0); Ctrl-C stops everything it started
`;

const [command, ...rest] = process.argv.slice(2);
/** With --debug an error shows its stack; otherwise it is one line. */
let debug = false;

function fail(message: string): never {
  process.stderr.write(`flowlogs: ${message}\n\n${USAGE}`);
  process.exit(2);
}

try {
  switch (command) {
    case 'records': {
      const { values } = parseArgs({ args: rest, options: { pcap: { type: 'string' }, interval: { type: 'string', default: '600' }, format: { type: 'string', default: 'json' }, eni: { type: 'string', default: 'eni-offline' }, 'eni-ip': { type: 'string' } } });
      const { runRecords } = await import('./records.js');
      await runRecords(values);
      break;
    }
    case 'replay': {
      const { values } = parseArgs({ args: rest, options: { pcap: { type: 'string' }, eni: { type: 'string' }, speed: { type: 'string', default: 'max' }, rebase: { type: 'boolean', default: false } } });
      const { runReplay } = await import('./replay.js');
      await runReplay(values);
      break;
    }
    case 'agent': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string' }, check: { type: 'boolean' }, debug: { type: 'boolean' }, help: { type: 'boolean' } } });
      debug = values.debug ?? false;
      const { runAgentCommand } = await import('./agent.js');
      await runAgentCommand(values);
      break;
    }
    case 'up': {
      const { runUp } = await import('./up.js');
      await runUp();
      break;
    }
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      break;
    default:
      fail(`unknown command ${command}`);
  }
} catch (err) {
  if (err instanceof Error && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) fail(err.message);
  if (err instanceof UsageError) fail(err.message);
  if (command !== 'agent' && command !== 'replay') throw err;
  // What an operator must fix (a config file, a key, an unreachable API): one line.
  process.stderr.write(`flowlogs ${command}: ${(err as Error).message}\n`);
  if (debug) process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
}

