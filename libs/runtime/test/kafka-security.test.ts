/** The Kafka security settings: each wrong combination is a start-up error naming its variable. */
import { describe, expect, it } from 'vitest';
import {
  CommonConfig,
  ConfigError,
  kafkaSecurityProblems,
  parseConfig,
  PLAINTEXT,
  type KafkaSecurity,
} from '../src/index.js';

const problems = (s: Partial<KafkaSecurity>) => kafkaSecurityProblems({ ...PLAINTEXT, ...s });
const SASL = { KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_USERNAME: 'agent', KAFKA_SASL_PASSWORD: 'pw' } as const;

describe('Kafka security settings', () => {
  it('defaults to plaintext without credentials', () => {
    const config = parseConfig(CommonConfig, {});
    expect(config.KAFKA_SECURITY_PROTOCOL).toBe('PLAINTEXT');
    expect(config.KAFKA_SASL_MECHANISM).toBe('scram-sha-512');
    expect(problems({})).toEqual([]);
  });

  it('takes the mechanism as Kafka spells it, and empty values as unset', () => {
    const config = parseConfig(CommonConfig, { ...SASL, KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256', KAFKA_SSL_CA_FILE: '' });
    expect(config.KAFKA_SASL_MECHANISM).toBe('scram-sha-256');
    expect(config.KAFKA_SSL_CA_FILE).toBeUndefined();
  });

  it('accepts SASL_SSL with a user and a password or a password file, and SSL with a client certificate', () => {
    expect(problems(SASL)).toEqual([]);
    expect(
      problems({ ...SASL, KAFKA_SASL_PASSWORD: undefined, KAFKA_SASL_PASSWORD_FILE: '/run/secrets/kafka' }),
    ).toEqual([]);
    expect(
      problems({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CERT_FILE: 'c.pem', KAFKA_SSL_KEY_FILE: 'k.pem' }),
    ).toEqual([]);
  });

  it('requires the user and a password with SASL', () => {
    expect(problems({ KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT' })).toEqual([
      { variable: 'KAFKA_SASL_USERNAME', message: 'required with KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT' },
      {
        variable: 'KAFKA_SASL_PASSWORD',
        message: 'required with KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT (or KAFKA_SASL_PASSWORD_FILE)',
      },
    ]);
  });

  it('refuses two passwords', () => {
    expect(problems({ ...SASL, KAFKA_SASL_PASSWORD_FILE: '/run/secrets/kafka' })).toEqual([
      { variable: 'KAFKA_SASL_PASSWORD_FILE', message: 'set together with KAFKA_SASL_PASSWORD: give one' },
    ]);
  });

  it('refuses a client certificate without its key, and a key without its certificate', () => {
    expect(problems({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CERT_FILE: 'c.pem' })).toEqual([
      { variable: 'KAFKA_SSL_KEY_FILE', message: "required with KAFKA_SSL_CERT_FILE (the certificate's key)" },
    ]);
    expect(problems({ ...SASL, KAFKA_SSL_KEY_FILE: 'k.pem' })).toEqual([
      { variable: 'KAFKA_SSL_CERT_FILE', message: "required with KAFKA_SSL_KEY_FILE (the key's certificate)" },
    ]);
  });

  it('refuses credentials and files the protocol would ignore', () => {
    expect(problems({ KAFKA_SASL_USERNAME: 'agent', KAFKA_SSL_CA_FILE: 'ca.pem' })).toEqual([
      {
        variable: 'KAFKA_SASL_USERNAME',
        message: 'set, but KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use it (SASL_SSL or SASL_PLAINTEXT does)',
      },
      {
        variable: 'KAFKA_SSL_CA_FILE',
        message: 'set, but KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use it (SSL or SASL_SSL does)',
      },
    ]);
    expect(problems({ ...SASL, KAFKA_SECURITY_PROTOCOL: 'SSL' }).map((p) => p.variable)).toEqual([
      'KAFKA_SASL_USERNAME',
      'KAFKA_SASL_PASSWORD',
    ]);
  });

  it('fails the parse of every service config with one line per variable, an unknown protocol or mechanism too', () => {
    expect(() =>
      parseConfig(CommonConfig, { KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_USERNAME: 'agent' }),
    ).toThrow(
      new ConfigError(
        'invalid configuration:\n  KAFKA_SASL_PASSWORD: required with KAFKA_SECURITY_PROTOCOL=SASL_SSL (or KAFKA_SASL_PASSWORD_FILE)',
      ),
    );
    expect(() => parseConfig(CommonConfig, { KAFKA_SECURITY_PROTOCOL: 'TLS' })).toThrow(/KAFKA_SECURITY_PROTOCOL: /);
    expect(() => parseConfig(CommonConfig, { ...SASL, KAFKA_SASL_MECHANISM: 'gssapi' })).toThrow(
      /KAFKA_SASL_MECHANISM: /,
    );
  });
});
