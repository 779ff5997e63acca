/**
 * The Kafka ACLs of each role, from what its code does (one table: the README's, `flowlogs
 * kafka-acls` prints it as kafka-acls.sh commands and applies it). Read and Write imply Describe.
 */
import kafkajs, { type Admin } from 'kafkajs';

// Not found as named exports of kafkajs's CommonJS index by Node's ESM loader.
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

export const ROLES = ['agent', 'aggregator', 'publisher', 'control-plane', 'log-reader'] as const;
export type Role = (typeof ROLES)[number];

type Operation = 'Read' | 'Write' | 'Create' | 'Describe';

export interface AclEntry {
  role: Role;
  resource: 'topic' | 'group' | 'transactional-id';
  /** Names, or name prefixes when `prefixed`. */
  names: string[];
  prefixed: boolean;
  operations: Operation[];
  /** What the role does with it. */
  why: string;
}

/** The pipeline's topics (topicNames of @flowlogs/contracts). */
interface PipelineTopicNames {
  packets: string;
  rules: string;
  logTopicSettings: string;
  inventory: string;
  records: string;
  dlq: string;
  logTopic(id: string): string;
}

/** Every ACL the pipeline needs for the topic prefix and its topics' names. */
export function pipelineAcls(prefix: string, t: PipelineTopicNames): AclEntry[] {
  const logTopics = t.logTopic('');
  const acl = (
    role: Role,
    resource: AclEntry['resource'],
    names: string[],
    operations: Operation[],
    why: string,
    prefixed = false,
  ): AclEntry => ({ role, resource, names, prefixed, operations, why });
  return [
    acl(
      'agent',
      'topic',
      [t.packets],
      ['Write', 'Create'],
      'sends packet batches (idempotent); creates the topic if missing',
    ),
    acl(
      'aggregator',
      'topic',
      [t.packets, t.rules, t.inventory],
      ['Read', 'Create'],
      'consumes packets; follows rules and bindings',
    ),
    acl(
      'aggregator',
      'topic',
      [t.records, t.dlq],
      ['Write', 'Create'],
      'writes records and dead letters in its transactions',
    ),
    acl(
      'aggregator',
      'group',
      [`${prefix}.aggregator`],
      ['Read'],
      "its group, and its settings readers' groups (.rules.*, .inventory.*)",
      true,
    ),
    acl(
      'aggregator',
      'transactional-id',
      [`${prefix}.aggregator.`],
      ['Write'],
      'one transactional id per packets partition',
      true,
    ),
    acl(
      'publisher',
      'topic',
      [t.records, t.logTopicSettings],
      ['Read', 'Create'],
      "consumes records; follows log topics' settings",
    ),
    acl('publisher', 'topic', [t.dlq], ['Write', 'Create'], 'dead letters'),
    acl('publisher', 'topic', [logTopics], ['Write'], "delivers each log topic's records", true),
    acl(
      'publisher',
      'group',
      [`${prefix}.publisher`],
      ['Read'],
      "its group, and its settings reader's groups (.log-topics.*)",
      true,
    ),
    acl(
      'publisher',
      'transactional-id',
      [`${prefix}.publisher.`],
      ['Write'],
      'one transactional id per records partition',
      true,
    ),
    acl(
      'control-plane',
      'topic',
      [t.rules, t.logTopicSettings, t.inventory],
      ['Write', 'Read', 'Create'],
      "publishes rules, log topics' settings and bindings; reads them back at start (tombstones what the store no longer has)",
    ),
    acl(
      'control-plane',
      'group',
      [`${t.rules}.control-plane`, `${t.logTopicSettings}.control-plane`, `${t.inventory}.control-plane`],
      ['Read'],
      'the groups it reads them back with (<topic>.control-plane.<pid>.<time>)',
      true,
    ),
    acl(
      'control-plane',
      'topic',
      [t.packets, t.records, t.dlq],
      ['Describe', 'Create'],
      "creates the pipeline's topics; reads their end offsets (pipeline health)",
    ),
    acl(
      'control-plane',
      'topic',
      [logTopics],
      ['Create', 'Read'],
      "creates each log topic's topic; the live tail reads it",
      true,
    ),
    acl(
      'control-plane',
      'group',
      [`${prefix}.aggregator`, `${prefix}.publisher`],
      ['Describe'],
      'their committed offsets (pipeline health)',
    ),
    acl('control-plane', 'group', [logTopics], ['Read'], "the live tail's groups (<kafka topic>.tail.<uuid>)", true),
    acl('log-reader', 'topic', [logTopics], ['Read'], "reads the log topics' topics", true),
    acl('log-reader', 'group', [`${prefix}.log-reader.`], ['Read'], 'its consumer groups', true),
  ];
}

const shellWord = (s: string) => (/^[\w.:/@=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The kafka-acls.sh command lines that create `acls` for the principals (User:<role> by default). */
export function aclCommands(
  acls: AclEntry[],
  principals: Partial<Record<Role, string>> = {},
  connection = '--bootstrap-server BROKER:PORT --command-config admin.properties',
): string[] {
  return acls.map((a) =>
    [
      'kafka-acls.sh',
      connection,
      '--add',
      `--allow-principal ${shellWord(principals[a.role] ?? `User:${a.role}`)}`,
      ...a.operations.map((o) => `--operation ${o}`),
      ...a.names.map((n) => `--${a.resource} ${shellWord(n)}`),
      ...(a.prefixed ? ['--resource-pattern-type prefixed'] : []),
    ].join(' '),
  );
}

const RESOURCE = {
  topic: AclResourceTypes.TOPIC,
  group: AclResourceTypes.GROUP,
  'transactional-id': AclResourceTypes.TRANSACTIONAL_ID,
} as const;
const OPERATION = {
  Read: AclOperationTypes.READ,
  Write: AclOperationTypes.WRITE,
  Create: AclOperationTypes.CREATE,
  Describe: AclOperationTypes.DESCRIBE,
} as const;

/** Creates the ACLs through `admin` (a principal allowed to: a super user); existing ones stay as they are. */
export async function applyAcls(
  admin: Admin,
  acls: AclEntry[],
  principals: Partial<Record<Role, string>> = {},
): Promise<number> {
  const acl = acls.flatMap((a) =>
    a.names.flatMap((resourceName) =>
      a.operations.map((o) => ({
        resourceType: RESOURCE[a.resource],
        resourceName,
        resourcePatternType: a.prefixed ? ResourcePatternTypes.PREFIXED : ResourcePatternTypes.LITERAL,
        principal: principals[a.role] ?? `User:${a.role}`,
        host: '*',
        operation: OPERATION[o],
        permissionType: AclPermissionTypes.ALLOW,
      })),
    ),
  );
  await admin.createAcls({ acl });
  return acl.length;
}
