import { AGGREGATION_INTERVALS, LogFormat, formatRecord, type FlowLogRule } from '@flowlogs/contracts';
import { recordsFromCapture } from '@flowlogs/flow';
import { requireCapture } from './capture-file.js';
import { UsageError } from './usage.js';

export async function runRecords(o: {
  pcap?: string;
  interval?: string;
  format?: string;
  eni?: string;
  'eni-ip'?: string;
}): Promise<void> {
  if (!o.pcap) throw new UsageError('records needs --pcap FILE');
  const interval = Number(o.interval);
  if (!(AGGREGATION_INTERVALS as readonly number[]).includes(interval))
    throw new UsageError(`--interval must be one of ${AGGREGATION_INTERVALS.join(', ')}`);
  const format = LogFormat.safeParse(o.format);
  if (!format.success) throw new UsageError('--format must be json or text');
  await requireCapture(o.pcap);
  const eni = { eniId: o.eni ?? 'eni-offline', accountId: '-', vpcId: '', subnetId: '' };
  const { records, counters } = await recordsFromCapture(o.pcap, {
    interval: interval as FlowLogRule['aggregationInterval'],
    eni,
    eniIp: o['eni-ip'],
  });
  const out: string[] = records.map((r) => formatRecord(r, format.data));
  process.stdout.write(out.length ? `${out.join('\n')}\n` : '');
  const skipped = Object.entries(counters.skipped)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  process.stderr.write(
    `${counters.received} frames, ${records.length} records${skipped ? `, skipped: ${skipped}` : ''}\n`,
  );
}
