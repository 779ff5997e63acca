/**
 * The API's resources, each defined once: the full shape a GET returns, and the create body picked
 * from it. Bodies are strict, so a misspelt field is a 400 rather than silently ignored.
 */
import { z } from 'zod';
import {
  AGGREGATION_INTERVALS,
  AggregationInterval,
  RecordFormat,
  ResourceType,
  TrafficType,
} from '@flowlogs/contracts';
import { hasHostBits, parseCidr, parseIp } from './ip.js';

const Id = z.string();
const Name = z.string().trim().min(1).max(255);
const CreatedAt = z.date();

const CidrBlock = z.string().superRefine((s, ctx) => {
  const cidr = parseCidr(s);
  if (!cidr) ctx.addIssue({ code: 'custom', message: 'expected a CIDR block such as 10.0.0.0/16 or 2001:db8::/56' });
  else if (hasHostBits(cidr))
    ctx.addIssue({ code: 'custom', message: `host bits are set beyond /${cidr.prefix}: give the network address` });
});

const IpAddress = z
  .string()
  .refine((s) => parseIp(s) !== undefined, 'expected an IPv4 or IPv6 address such as 10.0.1.5');

// The contract's union of literals only says "Invalid input"; this names the allowed values first.
const Interval = z
  .number()
  .refine(
    (n) => (AGGREGATION_INTERVALS as readonly number[]).includes(n),
    `expected one of ${AGGREGATION_INTERVALS.join(', ')} (seconds)`,
  )
  .pipe(AggregationInterval);

const Tag = z.strictObject({ key: z.string().min(1).max(127), value: z.string().max(255) });

export const Role = z.enum(['admin', 'readonly', 'agent']);
export const Account = z.object({ id: Id, name: Name, createdAt: CreatedAt });
export const ApiKey = z.object({ id: Id, accountId: Id, name: Name.nullable(), role: Role, createdAt: CreatedAt });
/** GET /v1/account: the account, and the role of the key that asks (the console hides writes from read-only keys). */
export const CallerAccount = Account.extend({
  role: Role.meta({ description: 'the role of the API key of this request' }),
});

export const Vpc = z.object({ id: Id, accountId: Id, name: Name, cidrBlock: CidrBlock, createdAt: CreatedAt });
export const Subnet = z.object({
  id: Id,
  accountId: Id,
  vpcId: Id,
  name: Name,
  cidrBlock: CidrBlock,
  createdAt: CreatedAt,
});
const AgentId = z.string().trim().min(1).max(255);
export const NetworkInterface = z.object({
  id: Id,
  accountId: Id,
  vpcId: Id,
  subnetId: Id,
  name: Name,
  primaryIp: IpAddress,
  createdAt: CreatedAt,
  agentId: AgentId.nullable().meta({
    description: 'the capture agent that registered it last; null for one created by hand',
  }),
  registeredAt: z.date().nullable().meta({ description: 'when its agent last registered it (at each agent start)' }),
});
export const Logset = z.object({
  id: Id,
  accountId: Id,
  name: Name,
  retentionDays: z.number().int().min(1).max(3650),
  createdAt: CreatedAt,
});
export const LogTopic = z.object({
  id: Id,
  accountId: Id,
  logsetId: Id,
  name: Name,
  format: RecordFormat,
  kafkaTopic: z.string(),
  createdAt: CreatedAt,
});
export const FlowLog = z.object({
  id: Id,
  accountId: Id,
  name: Name,
  description: z.string().max(1000),
  resourceType: ResourceType,
  resourceId: Id,
  trafficType: TrafficType,
  logTopicId: Id,
  aggregationInterval: Interval,
  enabled: z.boolean(),
  revision: z.number().int(),
  tags: z
    .array(Tag)
    .max(50)
    .superRefine((tags, ctx) => {
      const seen = new Set<string>();
      tags.forEach(({ key }, i) => {
        if (seen.has(key))
          ctx.addIssue({ code: 'custom', path: [i, 'key'], message: `tag key "${key}" is given twice` });
        seen.add(key);
      });
    }),
  createdAt: CreatedAt,
  updatedAt: z.date(),
});

export type Role = z.infer<typeof Role>;
export type Account = z.infer<typeof Account>;
export type ApiKey = z.infer<typeof ApiKey>;
export type Vpc = z.infer<typeof Vpc>;
export type Subnet = z.infer<typeof Subnet>;
export type NetworkInterface = z.infer<typeof NetworkInterface>;
export type Logset = z.infer<typeof Logset>;
export type LogTopic = z.infer<typeof LogTopic>;
export type FlowLog = z.infer<typeof FlowLog>;

export const CreateAccount = Account.pick({ name: true }).strict();
/** An account as created: with its first admin key, shown this once. */
export const CreatedAccount = Account.extend({ adminKey: z.string() });
export const CreateApiKey = ApiKey.pick({ role: true }).extend({ name: Name.optional() }).strict();
/** A key as created: the key itself is in this answer only (it is stored hashed). */
export const CreatedApiKey = ApiKey.extend({ key: z.string() });

export const CreateVpc = Vpc.pick({ name: true, cidrBlock: true }).strict();
export const CreateSubnet = Subnet.pick({ vpcId: true, name: true, cidrBlock: true }).strict();
export const CreateNetworkInterface = NetworkInterface.pick({ subnetId: true, name: true, primaryIp: true }).strict();
/** A capture agent's registration of an ENI: the create body, and the agent's id. */
export const RegisterNetworkInterface = CreateNetworkInterface.extend({ agentId: AgentId.optional() }).strict();
/** The id a capture agent registers its ENI under (PUT /v1/network-interfaces/:id). */
export const EniId = z.string().regex(/^eni-[a-z0-9]+$/, 'expected an ENI id such as eni-1a2b3c4d');
export const CreateLogset = Logset.pick({ name: true })
  .extend({ retentionDays: Logset.shape.retentionDays.default(7) })
  .strict();
export const CreateLogTopic = LogTopic.pick({ logsetId: true, name: true })
  .extend({ format: RecordFormat.default('json') })
  .strict();

/** The id prefix of each resource type a flow log can cover, so a mismatched id is a 400 before any lookup. */
export const RESOURCE_ID_PREFIX = { NETWORKINTERFACE: 'eni', SUBNET: 'subnet', VPC: 'vpc' } as const satisfies Record<
  ResourceType,
  string
>;

/** A PATCH body's rule: it changes something. */
const changesSome = (fields: string) =>
  [
    (body: object) => Object.values(body).some((v) => v !== undefined),
    { message: `${fields}: give at least one` },
  ] as const;

export const ModifyLogset = Logset.pick({ name: true, retentionDays: true })
  .partial()
  .strict()
  .refine(...changesSome('name, retentionDays'));
/** A format change reaches the publisher within seconds; records already delivered stay as they were. */
export const ModifyLogTopic = LogTopic.pick({ name: true, format: true })
  .partial()
  .strict()
  .refine(...changesSome('name, format'));
/** What changes in place: the flow key and the log topic stay (a different one is a new flow log). */
export const ModifyFlowLog = FlowLog.pick({
  name: true,
  description: true,
  trafficType: true,
  aggregationInterval: true,
  tags: true,
})
  .partial()
  .strict()
  .refine(...changesSome('name, description, trafficType, aggregationInterval or tags'));

export const CreateFlowLog = FlowLog.pick({
  name: true,
  resourceType: true,
  resourceId: true,
  trafficType: true,
  logTopicId: true,
})
  .extend({
    description: FlowLog.shape.description.default(''),
    aggregationInterval: FlowLog.shape.aggregationInterval.default(600),
    tags: FlowLog.shape.tags.default([]),
  })
  .strict()
  .superRefine((body, ctx) => {
    const prefix = RESOURCE_ID_PREFIX[body.resourceType];
    if (!body.resourceId.startsWith(`${prefix}-`)) {
      ctx.addIssue({
        code: 'custom',
        path: ['resourceId'],
        message: `a ${body.resourceType} id starts with "${prefix}-"`,
      });
    }
  });

export const FlowLogRevision = z.object({ revision: z.number().int(), changedAt: CreatedAt, flowLog: FlowLog });
export type FlowLogRevision = z.infer<typeof FlowLogRevision>;

/** A `{id}` path. */
export const IdParams = z.object({ id: Id });

/** A list page's position, opaque to clients: where the previous page ended. */
const Cursor = z.string().transform((s, ctx) => {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(s, 'base64url').toString()) as unknown[];
    if (typeof createdAt === 'string' && !Number.isNaN(Date.parse(createdAt)) && typeof id === 'string')
      return { createdAt, id };
  } catch {
    /* answered below */
  }
  ctx.addIssue({ code: 'custom', message: "not a cursor: pass a page's nextCursor back unchanged" });
  return z.NEVER;
});
export const encodeCursor = (position: { createdAt: string; id: string }) =>
  Buffer.from(JSON.stringify([position.createdAt, position.id])).toString('base64url');

/** `?limit=&cursor=&name=` of every list. */
export const ListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: Cursor.optional(),
  name: z.string().optional(),
});
export const FlowLogListQuery = ListQuery.extend({
  resourceId: z.string().optional(),
  tag: z
    .string()
    .regex(/^[^:]+:/, 'expected key:value')
    .transform((s) => {
      const at = s.indexOf(':');
      return { key: s.slice(0, at), value: s.slice(at + 1) };
    })
    .optional(),
  enabled: z
    .enum(['true', 'false'])
    .transform((s) => s === 'true')
    .optional(),
}).transform(({ tag, ...query }) => ({ ...query, tags: tag && [tag] })); // a flow log's tags contain the tag

/** A page of a list: pass nextCursor back as `cursor` for the next one (null: that was the last). */
export const listOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });
