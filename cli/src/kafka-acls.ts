/**
 * `flowlogs kafka-acls [--apply]`: the Kafka users and ACLs of each role for this installation's
 * topic prefix, as the commands of Kafka's own tools; with --apply, the ACLs created through the
 * Kafka settings of the environment (a super user's).
 */
import { topicNames } from '@flowlogs/contracts';
import { ROLES, aclCommands, applyAcls, createKafka, pipelineAcls } from '@flowlogs/kafka';
import { CommonConfig, createLogger, parseConfig } from '@flowlogs/runtime';

export async function runKafkaAcls(o: { apply?: boolean }): Promise<void> {
  const config = parseConfig(CommonConfig);
  const prefix = config.FLOWLOGS_TOPIC_PREFIX;
  const acls = pipelineAcls(prefix, topicNames(prefix));
  if (!o.apply) {
    const connection = '--bootstrap-server BROKER:PORT --command-config admin.properties';
    for (const role of ROLES)
      process.stdout.write(
        `kafka-configs.sh ${connection} --alter --add-config 'SCRAM-SHA-512=[password=PASSWORD]' --entity-type users --entity-name ${role}\n`,
      );
    for (const line of aclCommands(acls, {}, connection)) process.stdout.write(`${line}\n`);
    return;
  }
  const log = createLogger('kafka-acls', config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL);
  const admin = createKafka(config.KAFKA_BROKERS, 'flowlogs-kafka-acls', log, config).admin();
  await admin.connect();
  try {
    const created = await applyAcls(admin, acls);
    process.stdout.write(`${created} ACLs for topic prefix ${prefix}: ${ROLES.map((r) => `User:${r}`).join(', ')}\n`);
  } finally {
    await admin.disconnect();
  }
}
