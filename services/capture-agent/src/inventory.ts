/** What the control plane knows of an ENI: its account, VPC, subnet and address. */
import type { EniContext } from '@flowlogs/flow';

export interface EniInfo extends EniContext {
  primaryIp?: string;
}

export async function fetchEni(apiUrl: string, apiKey: string | undefined, eniId: string): Promise<EniInfo> {
  const res = await fetch(new URL(`/v1/network-interfaces/${encodeURIComponent(eniId)}`, apiUrl), {
    headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
  });
  if (!res.ok) throw new Error(`control plane at ${apiUrl} answered ${res.status} for ENI ${eniId}: ${await res.text()}`);
  const body = (await res.json()) as { id: string; accountId: string; vpcId: string; subnetId: string; primaryIp?: string };
  return { eniId: body.id, accountId: body.accountId, vpcId: body.vpcId, subnetId: body.subnetId, primaryIp: body.primaryIp };
}
