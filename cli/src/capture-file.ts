import { CaptureFormatError, readCaptureChunks } from '@flowlogs/packet';

/**
 * Fails, naming the file, unless it opens and starts as a pcap or pcapng capture: checked before any
 * work on it (a replay would otherwise fetch its ENI and connect to Kafka first, then send nothing).
 * A capture corrupt further on still gives the frames before the damage.
 */
export async function requireCapture(path: string): Promise<void> {
  try {
    for await (const chunk of readCaptureChunks(path)) {
      chunk.next();
      return;
    }
  } catch (err) {
    if (err instanceof CaptureFormatError) throw new Error(`${path}: ${err.message}`);
    throw err;
  }
}
