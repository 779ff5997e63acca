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

/** A call to the control plane's API; its failure is one line naming the URL and what it answered. */
async function apiRequest<T>(
  apiUrl: string,
  apiKey: string | undefined,
  path: string,
  what: string,
  body?: object,
  method = 'GET',
): Promise<T> {
  const url = new URL(path, apiUrl);
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: {
        ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(
      `control plane at ${apiUrl} did not answer (${cause?.code ?? cause?.message ?? (err as Error).message})`,
    );
  }
  if (!res.ok) {
    const text = await res.text();
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      /* not JSON: the text as it is */
    }
    throw new Error(`control plane at ${apiUrl} answered ${res.status} for ${what}: ${message}`);
  }
  return (await res.json()) as T;
}

async function eniRequest(
  apiUrl: string,
  apiKey: string | undefined,
  eniId: string,
  body?: Omit<EniRegistration, 'id'>,
): Promise<EniInfo> {
  const path = `/v1/network-interfaces/${encodeURIComponent(eniId)}`;
  const eni = await apiRequest<{ id: string; accountId: string; vpcId: string; subnetId: string; primaryIp?: string }>(
    apiUrl,
    apiKey,
    path,
    `ENI ${eniId}`,
    body,
    body ? 'PUT' : 'GET',
  );
  return {
    eniId: eni.id,
    accountId: eni.accountId,
    vpcId: eni.vpcId,
    subnetId: eni.subnetId,
    primaryIp: eni.primaryIp,
  };
}

/** The key's account and role (GET /v1/account). */
export function fetchAccount(apiUrl: string, apiKey: string | undefined): Promise<{ id: string; role: string }> {
  return apiRequest(apiUrl, apiKey, '/v1/account', 'the API key');
}

/**
 * Refuses a key that may not write packets: agents and replays need an agent (or admin) key, which
 * the control plane binds ENIs to. One line that says which key is wrong.
 */
export async function requireWritingKey(
  apiUrl: string,
  apiKey: string | undefined,
): Promise<{ id: string; role: string }> {
  if (!apiKey)
    throw new Error(
      'FLOWLOGS_API_KEY is not set: writing packets needs an agent key (POST /v1/api-keys {"role": "agent"})',
    );
  const { id, role } = await fetchAccount(apiUrl, apiKey);
  if (role === 'readonly') {
    throw new Error(
      `FLOWLOGS_API_KEY is a read-only key of account ${id}: writing packets needs an agent key (POST /v1/api-keys {"role": "agent"})`,
    );
  }
  return { id, role };
}

export function fetchEni(apiUrl: string, apiKey: string | undefined, eniId: string): Promise<EniInfo> {
  return eniRequest(apiUrl, apiKey, eniId);
}

/** Creates the ENI under its id in the key's account, or finds it there as registered before (idempotent). */
export function registerEni(
  apiUrl: string,
  apiKey: string | undefined,
  { id, ...body }: EniRegistration,
): Promise<EniInfo> {
  return eniRequest(apiUrl, apiKey, id, body);
}

/**
 * Binds the account's ENI to this agent (POST /v1/network-interfaces/:id/agent): the answer is the
 * agent's secret, which signs its batches; only batches it signs are aggregated for the ENI.
 */
export async function bindAgent(
  apiUrl: string,
  apiKey: string | undefined,
  eniId: string,
  agentId: string,
): Promise<string> {
  const path = `/v1/network-interfaces/${encodeURIComponent(eniId)}/agent`;
  const { secret } = await apiRequest<{ secret: string }>(
    apiUrl,
    apiKey,
    path,
    `binding ENI ${eniId} to agent ${agentId}`,
    { agentId },
    'POST',
  );
  return secret;
}
