/**
 * Cross-checks `flowlogs records` (recordsFromCapture) against tshark, per flow key and window.
 *
 *   npx tsx libs/flow/scripts/compare-records-tshark.ts [--interval 60] FILE...
 *
 * For each file prints flows matched, only in flowlogs, only in tshark and field mismatches
 * (packets, bytes, start, end), with the first few differences, then a total line. Frames
 * without an IP layer are skipped by both sides. How tshark is run and read: tshark-flows.ts
 * and ../../packet/scripts/tshark.ts. Not part of the test suite: it needs tshark and real
 * captures (test/tshark-agreement.test.ts runs the same comparison on a built capture).
 */
import { AGGREGATION_INTERVALS, type FlowLogRule } from '@flowlogs/contracts';
import { compareCapture, flowKey, type Flow } from './tshark-flows.js';

const EXAMPLES = 5;

function usage(message?: string): never {
  if (message) console.error(message);
  console.error('usage: npx tsx libs/flow/scripts/compare-records-tshark.ts [--interval 60] FILE...');
  process.exit(2);
}

const args = process.argv.slice(2);
let interval = 60;
const paths: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--interval') interval = Number(args[++i]);
  else if (args[i].startsWith('--interval=')) interval = Number(args[i].slice('--interval='.length));
  else paths.push(args[i]);
}
if (!(AGGREGATION_INTERVALS as readonly number[]).includes(interval))
  usage(`--interval must be one of ${AGGREGATION_INTERVALS.join(', ')}`);
if (paths.length === 0) usage();

const show = (f: Flow) => `${flowKey(f)}  packets ${f.packets} bytes ${f.bytes} start ${f.start} end ${f.end}`;
const total = {
  files: 0,
  filesWithDifferences: 0,
  matched: 0,
  onlyInFlowlogs: 0,
  onlyInTshark: 0,
  mismatchedFlows: 0,
  mismatches: 0,
};

for (const path of paths) {
  const {
    comparison: c,
    tshark,
    counters,
  } = await compareCapture(path, interval as FlowLogRule['aggregationInterval']);
  total.files++;
  total.matched += c.matched;
  total.onlyInFlowlogs += c.onlyInFlowlogs.length;
  total.onlyInTshark += c.onlyInTshark.length;
  total.mismatchedFlows += c.mismatchedFlows;
  total.mismatches += c.mismatches.length;
  const differences = c.onlyInFlowlogs.length + c.onlyInTshark.length + c.mismatches.length;
  if (differences) total.filesWithDifferences++;
  const skipped = Object.entries(counters.skipped)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  console.log(
    `${path}: ${c.matched} matched, ${c.onlyInFlowlogs.length} only-in-flowlogs, ${c.onlyInTshark.length} only-in-tshark, ` +
      `${c.mismatchedFlows} with field mismatches (${c.mismatches.length} fields)` +
      `  [frames: flowlogs ${counters.received}${skipped ? ` (skipped: ${skipped})` : ''}, tshark ${tshark.frames} (non-IP ${tshark.nonIp})]`,
  );
  for (const f of c.onlyInFlowlogs.slice(0, EXAMPLES)) console.log(`  only in flowlogs: ${show(f)}`);
  for (const f of c.onlyInTshark.slice(0, EXAMPLES)) {
    const first = tshark.firstFrame.get(flowKey(f));
    console.log(`  only in tshark:   ${show(f)}  [first frame #${first?.frame} ${first?.protocols}]`);
  }
  for (const m of c.mismatches.slice(0, EXAMPLES))
    console.log(`  mismatch: ${m.key} ${m.field}: flowlogs ${m.flowlogs}, tshark ${m.tshark}`);
}
console.log(
  `TOTAL (interval ${interval}s, ${total.files} files, ${total.filesWithDifferences} with differences): ${total.matched} matched, ` +
    `${total.onlyInFlowlogs} only-in-flowlogs, ${total.onlyInTshark} only-in-tshark, ${total.mismatchedFlows} with field mismatches (${total.mismatches} fields)`,
);
