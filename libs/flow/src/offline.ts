/** `flowlogs records`: a capture decoded and windowed in-process with the services' own code. */
import { newPacketEvent, type FlowLogRule, type FlowRecord, type TrafficType } from '@flowlogs/contracts';
import { CaptureFormatError, readCaptureChunks } from '@flowlogs/packet';
import { PacketEventDecoder, type CaptureCounters } from './capture-events.js';
import type { EniContext } from './rules.js';
import { FlowWindows } from './windows.js';

export interface OfflineOptions {
  interval: FlowLogRule['aggregationInterval'];
  eni: EniContext;
  eniIp?: string;
  trafficType?: TrafficType;
}

export async function recordsFromCapture(
  path: string,
  opts: OfflineOptions,
): Promise<{ records: FlowRecord[]; counters: CaptureCounters }> {
  const rule: FlowLogRule = {
    id: 'offline',
    accountId: opts.eni.accountId,
    name: 'offline',
    resourceType: 'NETWORKINTERFACE',
    resourceId: opts.eni.eniId,
    trafficType: opts.trafficType ?? 'ALL',
    logTopicId: 'offline',
    aggregationInterval: opts.interval,
    enabled: true,
    revision: 1,
  };
  const decoder = new PacketEventDecoder(opts.eniIp);
  // All input is known up front: nothing is late, every window closes at the end.
  const windows = new FlowWindows({ allowedLateness: Infinity });
  const event = newPacketEvent();
  let position = 0;
  try {
    for await (const chunk of readCaptureChunks(path)) {
      for (let frame = chunk.next(); frame; frame = chunk.next()) {
        if (decoder.decode(frame, event) === null) windows.add(rule, opts.eni, event, position++);
      }
    }
  } catch (err) {
    if (!(err instanceof CaptureFormatError)) throw err;
    decoder.countFormatError();
  }
  return { records: windows.closeAll(), counters: decoder.counters };
}
