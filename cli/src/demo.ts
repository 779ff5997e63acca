/** The demo's resources (created once, found again on later runs) and its agent configuration. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_NETWORK, demoCapture } from '@flowlogs/packet/demo-capture';

interface Named {
  id: string;
  name: string;
}

export interface DemoSetup {
  eniId: string;
  eniIp: string;
  flowLogId: string;
  logTopicId: string;
  kafkaTopic: string;
  interval: number;
  agentConfigPath: string;
}

export async function setUpDemo(o: { apiUrl: string; apiKey: string; cacheDir: string }): Promise<DemoSetup> {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(new URL(path, o.apiUrl), {
      method,
      headers: { authorization: `Bearer ${o.apiKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  /**
   * The resource named `demo` of a kind, created when missing: the demo survives restarts without piling up copies.
   * Asked for by name, since a list answers a page at a time.
   */
  const ensure = async <T extends Named>(
    path: string,
    body: { name: string } & Record<string, unknown>,
  ): Promise<T> => {
    const { items } = await call<{ items: T[] }>('GET', `${path}?${new URLSearchParams({ name: body.name })}`);
    return items.find((i) => i.name === body.name) ?? call<T>('POST', path, body);
  };

  const vpc = await ensure<Named>('/v1/vpcs', { name: 'demo', cidrBlock: DEMO_NETWORK.vpcCidr });
  const subnet = await ensure<Named>('/v1/subnets', {
    name: 'demo',
    vpcId: vpc.id,
    cidrBlock: DEMO_NETWORK.subnetCidr,
  });
  const eni = await ensure<Named & { accountId: string; vpcId: string; subnetId: string }>('/v1/network-interfaces', {
    name: 'demo',
    subnetId: subnet.id,
    primaryIp: DEMO_NETWORK.eniIp,
  });
  const logset = await ensure<Named>('/v1/logsets', { name: 'demo', retentionDays: 1 });
  const topic = await ensure<Named & { kafkaTopic: string }>('/v1/log-topics', { name: 'demo', logsetId: logset.id });
  const interval = 10;
  const flowLog = await ensure<Named>('/v1/flow-logs', {
    name: 'demo',
    resourceType: 'NETWORKINTERFACE',
    resourceId: eni.id,
    trafficType: 'ALL',
    logTopicId: topic.id,
    aggregationInterval: interval,
    tags: [{ key: 'env', value: 'demo' }],
  });

  mkdirSync(o.cacheDir, { recursive: true });
  const capturePath = join(o.cacheDir, 'demo.pcap');
  writeFileSync(capturePath, demoCapture(Math.floor(Date.now() / 1000)));
  const agentConfigPath = join(o.cacheDir, 'agent.json');
  writeFileSync(
    agentConfigPath,
    JSON.stringify(
      {
        enis: [
          {
            id: eni.id,
            accountId: eni.accountId,
            vpcId: eni.vpcId,
            subnetId: eni.subnetId,
            primaryIp: DEMO_NETWORK.eniIp,
            source: { type: 'file', path: capturePath, speed: 'capture', loop: true },
          },
        ],
      },
      null,
      2,
    ),
  );
  return {
    eniId: eni.id,
    eniIp: DEMO_NETWORK.eniIp,
    flowLogId: flowLog.id,
    logTopicId: topic.id,
    kafkaTopic: topic.kafkaTopic,
    interval,
    agentConfigPath,
  };
}
