import { topicNames } from '@flowlogs/contracts';
import {
  ReplaySpeed,
  bindAgent,
  fetchEni,
  loadConfig,
  replayCapture,
  requireWritingKey,
  type ReplayProgress,
} from '@flowlogs/capture-agent';
import { createKafka, reliableProducer } from '@flowlogs/kafka';
import { createLogger } from '@flowlogs/runtime';
import { requireCapture } from './capture-file.js';
import { UsageError } from './usage.js';

/** A one-line progress bar on a terminal; nothing when the output is a file or a pipe. */
function progressBar(p: ReplayProgress): void {
  if (!process.stderr.isTTY) return;
  const width = 30;
  const done = p.total ? Math.min(1, p.frames / p.total) : 0;
  const bar = '#'.repeat(Math.round(done * width)).padEnd(width, '.');
  process.stderr.write(
    `\r[${bar}] ${(done * 100).toFixed(0).padStart(3)}%  ${p.frames}/${p.total ?? '?'} frames, ${p.batches} batches`,
  );
}

export async function runReplay(o: { pcap?: string; eni?: string; speed?: string; rebase?: boolean }): Promise<void> {
  if (!o.pcap || !o.eni) throw new UsageError('replay needs --pcap FILE and --eni ID');
  const speed = ReplaySpeed.safeParse(o.speed);
  if (!speed.success) throw new UsageError('--speed must be max or capture');
  await requireCapture(o.pcap);
  const config = loadConfig();
  const log = createLogger('replay', config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL);
  await requireWritingKey(config.FLOWLOGS_API_URL, config.FLOWLOGS_API_KEY);
  const eni = await fetchEni(config.FLOWLOGS_API_URL, config.FLOWLOGS_API_KEY, o.eni);
  // A replay writes as this host's agent: the ENI is bound to it (as it already is when this host captures it live).
  const agentId = config.FLOWLOGS_AGENT_ID;
  const secret = await bindAgent(config.FLOWLOGS_API_URL, config.FLOWLOGS_API_KEY, o.eni, agentId);
  const producer = reliableProducer(createKafka(config.KAFKA_BROKERS, 'flowlogs-replay', log, config));
  await producer.connect();
  try {
    const counters = await replayCapture({
      producer,
      topic: topicNames(config.FLOWLOGS_TOPIC_PREFIX).packets,
      log,
      eni,
      eniIp: eni.primaryIp,
      agentId,
      secret,
      path: o.pcap,
      speed: speed.data,
      rebase: o.rebase ?? false,
      batchPackets: config.FLOWLOGS_BATCH_PACKETS,
      onProgress: progressBar,
    });
    if (process.stderr.isTTY) process.stderr.write('\n');
    const skipped = Object.entries(counters.skipped)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    process.stderr.write(
      `replayed ${counters.received} frames for ${eni.eniId}${skipped ? ` (skipped: ${skipped})` : ''}\n`,
    );
  } finally {
    await producer.disconnect();
  }
}
