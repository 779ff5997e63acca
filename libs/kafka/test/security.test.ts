/** The client's TLS and SASL options from the settings, the principal it is, and refusals said plainly. */
import { describe, expect, it } from 'vitest';
import { ConfigError, PLAINTEXT, type KafkaSecurity } from '@flowlogs/runtime';
import { topicNames } from '@flowlogs/contracts';
import { accessDenied, aclCommands, kafkaClientOptions, kafkaPrincipal, pipelineAcls } from '../src/index.js';

const PEM = (what: string) => `-----BEGIN ${what}-----\nAAAA\n-----END ${what}-----\n`;
const FILES: Record<string, string> = {
  '/ca.pem': PEM('CERTIFICATE'),
  '/client.pem': PEM('CERTIFICATE'),
  '/client.key': PEM('PRIVATE KEY'),
  '/password': 'secret\n',
  '/empty': '',
  '/ca.der': '0\x82\x03',
};
const read = (path: string) => {
  if (!(path in FILES)) throw Object.assign(new Error(`ENOENT: no such file, open '${path}'`), { code: 'ENOENT' });
  return Buffer.from(FILES[path], 'binary');
};
const options = (s: Partial<KafkaSecurity>) => kafkaClientOptions({ ...PLAINTEXT, ...s }, read);

describe('kafkaClientOptions', () => {
  it('plaintext: neither TLS nor SASL', () => {
    expect(options({})).toEqual({});
  });

  it('SASL_SSL: the CA read, SCRAM with the password from its file, its newline dropped', () => {
    expect(
      options({
        KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
        KAFKA_SSL_CA_FILE: '/ca.pem',
        KAFKA_SASL_USERNAME: 'agent',
        KAFKA_SASL_PASSWORD_FILE: '/password',
      }),
    ).toEqual({
      ssl: { ca: [FILES['/ca.pem']] },
      sasl: { mechanism: 'scram-sha-512', username: 'agent', password: 'secret' },
    });
  });

  it('SSL without a CA file: Node public CAs; with a client certificate and key (mTLS)', () => {
    expect(options({ KAFKA_SECURITY_PROTOCOL: 'SSL' })).toEqual({ ssl: {} });
    expect(
      options({
        KAFKA_SECURITY_PROTOCOL: 'SSL',
        KAFKA_SSL_CERT_FILE: '/client.pem',
        KAFKA_SSL_KEY_FILE: '/client.key',
      }),
    ).toEqual({ ssl: { cert: FILES['/client.pem'], key: FILES['/client.key'] } });
  });

  it('SASL_PLAINTEXT: SASL without TLS', () => {
    expect(
      options({ KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }),
    ).toEqual({ sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } });
  });

  it('an unreadable file is a ConfigError naming its variable, the path and why', () => {
    expect(() => options({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CA_FILE: '/nowhere.pem' })).toThrow(
      new ConfigError('KAFKA_SSL_CA_FILE: cannot read /nowhere.pem: ENOENT'),
    );
    expect(() =>
      options({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD_FILE: '/gone' }),
    ).toThrow(new ConfigError('KAFKA_SASL_PASSWORD_FILE: cannot read /gone: ENOENT'));
  });

  it('a file that is not PEM, and an empty password file, are refused', () => {
    expect(() => options({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CA_FILE: '/ca.der' })).toThrow(
      new ConfigError('KAFKA_SSL_CA_FILE: /ca.der holds no PEM block'),
    );
    expect(() =>
      options({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD_FILE: '/empty' }),
    ).toThrow(new ConfigError('KAFKA_SASL_PASSWORD_FILE: /empty is empty'));
  });
});

describe('kafkaPrincipal', () => {
  it('is the SASL user, else anonymous', () => {
    const sasl = { ...PLAINTEXT, KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_USERNAME: 'publisher' } as const;
    expect(kafkaPrincipal(sasl, {})).toBe('User:publisher');
    expect(kafkaPrincipal(PLAINTEXT, {})).toBe('User:ANONYMOUS');
  });
});

describe('accessDenied', () => {
  const protocolError = (type: string) =>
    Object.assign(new Error('Not authorized'), { name: 'KafkaJSProtocolError', type });

  it('names the principal, the operation and the topic, group or transactional id', () => {
    expect(
      accessDenied(protocolError('TOPIC_AUTHORIZATION_FAILED'), 'User:agent', {
        operation: 'Write',
        topics: ['p.records'],
      }),
    ).toBe(
      "Kafka denied User:agent Write on topic p.records (TOPIC_AUTHORIZATION_FAILED); see the Kafka ACLs in the README's Running on a cluster",
    );
    expect(
      accessDenied(protocolError('GROUP_AUTHORIZATION_FAILED'), 'User:agent', {
        operation: 'Read',
        topics: ['p.records'],
        group: 'p.publisher',
      }),
    ).toMatch(/^Kafka denied User:agent Read on group p.publisher \(GROUP_AUTHORIZATION_FAILED\)/);
    expect(
      accessDenied(protocolError('TRANSACTIONAL_ID_AUTHORIZATION_FAILED'), 'User:publisher', {
        operation: 'Write',
        transactionalId: 'p.aggregator.p.packets.0',
      }),
    ).toMatch(/^Kafka denied User:publisher Write on transactional id p.aggregator.p.packets.0 /);
  });

  it('finds the type behind a retrier that gave up, names bad credentials, and ignores other errors', () => {
    const wrapped = Object.assign(new Error('retries exceeded'), {
      cause: protocolError('TOPIC_AUTHORIZATION_FAILED'),
    });
    expect(accessDenied(wrapped, 'User:a', { operation: 'Describe', topics: ['t'] })).toMatch(
      /^Kafka denied User:a Describe on topic t /,
    );
    const untyped = Object.assign(new Error('Not authorized to access group: Group authorization failed'), {
      name: 'KafkaJSNonRetriableError',
    });
    expect(accessDenied(untyped, 'User:a', { operation: 'Describe', group: 'g' })).toMatch(
      /^Kafka denied User:a Describe on group g \(GROUP_AUTHORIZATION_FAILED\)/,
    );
    const sasl = Object.assign(new Error('SASL SCRAM SHA512 authentication failed'), {
      name: 'KafkaJSSASLAuthenticationError',
    });
    expect(accessDenied(sasl, 'User:a', { operation: 'Write' })).toMatch(
      /^Kafka refused the credentials of User:a: SASL SCRAM SHA512 authentication failed/,
    );
    expect(accessDenied(protocolError('NOT_LEADER_FOR_PARTITION'), 'User:a', { operation: 'Write' })).toBeUndefined();
  });
});

describe('the ACL table', () => {
  const acls = pipelineAcls('p', topicNames('p'));

  it('gives the agent its packets topic and nothing else', () => {
    expect(acls.filter((a) => a.role === 'agent')).toEqual([
      expect.objectContaining({
        resource: 'topic',
        names: ['p.packets'],
        prefixed: false,
        operations: ['Write', 'Create'],
      }),
    ]);
  });

  it("lets only the aggregator and the control plane read the inventory (the agents' secrets)", () => {
    const readers = acls.filter((a) => a.names.includes('p.inventory') && a.operations.includes('Read'));
    expect(readers.map((a) => a.role).sort()).toEqual(['aggregator', 'control-plane']);
  });

  it('prints as kafka-acls.sh commands, prefixed patterns marked', () => {
    const lines = aclCommands(acls, { agent: 'User:CN=host 7' }, '--bootstrap-server k:9093');
    expect(lines[0]).toBe(
      "kafka-acls.sh --bootstrap-server k:9093 --add --allow-principal 'User:CN=host 7' --operation Write --operation Create --topic p.packets",
    );
    expect(lines).toContain(
      'kafka-acls.sh --bootstrap-server k:9093 --add --allow-principal User:publisher --operation Write --transactional-id p.publisher. --resource-pattern-type prefixed',
    );
  });
});
