import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod';
import { CommonConfig, envInt, metricsListener, parseConfig } from '@flowlogs/runtime';

export const ReplaySpeed = z.enum(['max', 'capture']);

/** A capture file replayed into the pipeline (the demo, tests, `flowlogs replay`). */
export const FileSourceConfig = z.object({
  type: z.literal('file'),
  path: z.string(),
  speed: ReplaySpeed.default('max'),
  /** Replay again and again (the demo), with timestamps moved forward each time. */
  loop: z.boolean().default(false),
  /** Shift timestamps so that the capture ends now. */
  rebase: z.boolean().default(false),
});

/** Run tcpdump inside this network namespace (`ip netns exec <netns> tcpdump …`), e.g. a VM's or a container's. */
const Netns = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+$/, 'a network namespace name as `ip netns list` shows it')
  .optional();

const NflogGroup = z.number().int().min(0).max(65535);

/**
 * The host firewall's drops for a live interface: nftables rules that drop with `log prefix "drop"
 * group N`. A packet such a rule dropped is REJECT, counted once; every other packet ACCEPT.
 */
export const LiveVerdictsConfig = z.object({
  nflogGroups: z.array(NflogGroup).min(1),
  /** How long a packet waits for its verdict (NFLOG and the interface each reach the agent in batches, about once a second). */
  holdMs: z.number().int().min(100).max(60_000).default(2000),
});

/** Live traffic of an interface, through a tcpdump child streaming pcap (libpcap). */
export const LiveSourceConfig = z.object({
  type: z.literal('live'),
  interface: z.string().min(1),
  /** A BPF expression (tcpdump's filter syntax), e.g. "not port 22". */
  filter: z.string().optional(),
  /** Bytes captured per packet; records count the IP lengths as on the wire either way. */
  snaplen: z.number().int().min(64).max(262144).default(262144),
  /** Hand over each packet at once instead of in the kernel's blocks (lower latency, more CPU). */
  immediate: z.boolean().default(false),
  netns: Netns,
  /** The verdicts of the host's firewall in the same netns, from these NFLOG groups. */
  verdicts: LiveVerdictsConfig.optional(),
});

/**
 * The verdicts of nftables rules that log to NFLOG groups (`log prefix "drop" group 2 drop`): one
 * tcpdump on nflog:<group> per group, merged. A packet is REJECT when the rule's log prefix contains
 * drop, reject or deny, and ACCEPT otherwise (so give accepting rules a prefix such as "accept").
 */
export const NflogSourceConfig = z.object({
  type: z.literal('nflog'),
  groups: z.array(NflogGroup).min(1),
  netns: Netns,
});

/** One ENI the agent owns: where its packets come from, and (optionally) what it is; the rest is asked of the control plane. */
export const EniSource = z
  .object({
    id: z.string().regex(/^eni-[a-z0-9]+$/, 'an ENI id such as eni-1a2b3c4d'),
    accountId: z.string().optional(),
    vpcId: z.string().optional(),
    /** With primaryIp (and name), the agent registers the ENI in this subnet at start-up (PUT /v1/network-interfaces/:id). */
    subnetId: z.string().optional(),
    name: z.string().optional(),
    primaryIp: z.string().optional(),
    source: z.discriminatedUnion('type', [FileSourceConfig, LiveSourceConfig, NflogSourceConfig]),
  })
  .refine((e) => !e.subnetId || e.primaryIp || (e.accountId && e.vpcId), {
    path: ['primaryIp'],
    message: 'registering the ENI in subnetId needs its primaryIp',
  });
export type EniSource = z.infer<typeof EniSource>;

export const CaptureAgentConfig = CommonConfig.extend({
  FLOWLOGS_AGENT_ID: z.string().default(hostname()),
  /** A JSON file: {"enis": [EniSource, …]}. */
  FLOWLOGS_AGENT_CONFIG: z.string().optional(),
  FLOWLOGS_API_URL: z.string().url().default('http://127.0.0.1:8080'),
  FLOWLOGS_API_KEY: z.string().optional(),
  /** Packets per batch on the packets topic. */
  FLOWLOGS_BATCH_PACKETS: envInt(4096),
  /** A batch leaves at the latest this long after its first packet. */
  FLOWLOGS_FLUSH_MS: envInt(100),
  /** With no traffic, an ENI still says it is live this often. */
  FLOWLOGS_HEARTBEAT_MS: envInt(5000),
  /** Memory for batches waiting for Kafka; past it live packets are dropped (and reported), files wait. */
  FLOWLOGS_AGENT_QUEUE_BYTES: envInt(64 << 20),
  ...metricsListener(9101),
});
export type CaptureAgentConfig = z.infer<typeof CaptureAgentConfig>;

export const loadConfig = (env = process.env) => parseConfig(CaptureAgentConfig, env);

/** The agent's config file (`flowlogs agent --config FILE`, FLOWLOGS_AGENT_CONFIG). */
export const AgentFile = z
  .object({
    /** Names this agent to the control plane (its ENIs are bound to it); default FLOWLOGS_AGENT_ID, else the host name. */
    agentId: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits, ".", "_" and "-", at most 100')
      .optional(),
    enis: z.array(EniSource).min(1, 'at least one ENI'),
  })
  .strict();
export type AgentFile = z.infer<typeof AgentFile>;

/** The file's text parsed, or one line per problem, each naming the field (`enis.0.source.interface: …`). Pure. */
export function parseAgentFile(text: string, path: string): { file: AgentFile } | { problems: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { problems: [`${path}: not JSON: ${(err as Error).message}`] };
  }
  const parsed = AgentFile.safeParse(json);
  if (parsed.success) return { file: parsed.data };
  return { problems: parsed.error.issues.map((i) => `${path}: ${i.path.join('.') || '(top level)'}: ${i.message}`) };
}

/** Reads and parses the agent's config file; throws one error listing every problem. */
export function loadAgentFile(path: string): AgentFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const result = parseAgentFile(text, path);
  if ('problems' in result) throw new Error(result.problems.join('; '));
  return result.file;
}
