/**
 * Writes the demo's generated traffic (what `flowlogs up` replays: ~20 s of one ENI with primary IP
 * 10.0.1.10 in subnet 10.0.1.0/24) as a pcap, for the Docker capture agent to loop over:
 *   npx tsx deploy/docker/demo-pcap.ts captures/sample.pcap
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DEMO_NETWORK, demoCapture } from '@flowlogs/packet/demo-capture';

const out = resolve(process.argv[2] ?? 'captures/sample.pcap');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, demoCapture(Math.floor(Date.now() / 1000)));
console.log(
  `wrote ${out}: traffic of an ENI with primary IP ${DEMO_NETWORK.eniIp} in subnet ${DEMO_NETWORK.subnetCidr} (VPC ${DEMO_NETWORK.vpcCidr})`,
);
