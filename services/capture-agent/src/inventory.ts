/** What the control plane knows of an ENI: its account, VPC, subnet and address. */
import type { EniContext } from '@flowlogs/flow';

export interface EniInfo extends EniContext {
  primaryIp?: string;
}

export interface EniRegistration {
  id: string;
  subnetId: string;
  name: string;
  primaryIp: string;
  /** The registering agent: the control plane records it on the ENI (the console shows it). */
  agentId?: string;
}

async function eniRequest(apiUrl: string, apiKey: string | undefined, eniId: string, body?: Omit<EniRegistration, 'id'>): Promise<EniInfo> {
  const res = await fetch(new URL(`/v1/network-interfaces/${encodeURIComponent(eniId)}`, apiUrl), {
    method: body ? 'PUT' : 'GET',
    headers: { ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`control plane at ${apiUrl} answered ${res.status} for ENI ${eniId}: ${await res.text()}`);
  const eni = (await res.json()) as { id: string; accountId: string; vpcId: string; subnetId: string; primaryIp?: string };
  return { eniId: eni.id, accountId: eni.accountId, vpcId: eni.vpcId, subnetId: eni.subnetId, primaryIp: eni.primaryIp };
}

export function fetchEni(apiUrl: string, apiKey: string | undefined, eniId: string): Promise<EniInfo> {
  return eniRequest(apiUrl, apiKey, eniId);
}

/** Creates the ENI under its id in the key's account, or finds it there as registered before (idempotent). */
export function registerEni(apiUrl: string, apiKey: string | undefined, { id, ...body }: EniRegistration): Promise<EniInfo> {
  return eniRequest(apiUrl, apiKey, id, body);
}
