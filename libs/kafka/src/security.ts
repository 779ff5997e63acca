/**
 * The Kafka client's TLS and SASL options from the parsed settings (KafkaSecurity of
 * @flowlogs/runtime), with the files they name read once; and the principal the brokers will see.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import { ConfigError, type KafkaSecurity } from '@flowlogs/runtime';

/** A file's content, or a ConfigError naming the variable that named it and why it cannot be read. */
function readSetting(variable: keyof KafkaSecurity, path: string, read: (path: string) => Buffer): Buffer {
  try {
    return read(path);
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException;
    throw new ConfigError(`${variable}: cannot read ${path}: ${code ?? message}`);
  }
}

/** A PEM file's content, checked to hold PEM (a DER file or a key given for a certificate fails here, not in the TLS handshake). */
function readPem(variable: keyof KafkaSecurity, path: string, read: (path: string) => Buffer): string {
  const text = readSetting(variable, path, read).toString('utf8');
  if (!/-----BEGIN [A-Z0-9 ]+-----/.test(text)) throw new ConfigError(`${variable}: ${path} holds no PEM block`);
  return text;
}

/** kafkajs's `ssl` and `sasl` for the settings (validated by CommonConfig); `read` is for tests. */
export function kafkaClientOptions(
  s: KafkaSecurity,
  read: (path: string) => Buffer = (path) => readFileSync(path),
): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const protocol = s.KAFKA_SECURITY_PROTOCOL;
  const options: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (protocol === 'SSL' || protocol === 'SASL_SSL') {
    options.ssl = {
      // Without a CA file, Node's public CAs (a managed cluster's certificate); the host name is always checked.
      ...(s.KAFKA_SSL_CA_FILE && { ca: [readPem('KAFKA_SSL_CA_FILE', s.KAFKA_SSL_CA_FILE, read)] }),
      ...(s.KAFKA_SSL_CERT_FILE && { cert: readPem('KAFKA_SSL_CERT_FILE', s.KAFKA_SSL_CERT_FILE, read) }),
      ...(s.KAFKA_SSL_KEY_FILE && { key: readPem('KAFKA_SSL_KEY_FILE', s.KAFKA_SSL_KEY_FILE, read) }),
    };
  }
  if (protocol === 'SASL_SSL' || protocol === 'SASL_PLAINTEXT') {
    const password = s.KAFKA_SASL_PASSWORD_FILE
      ? readSetting('KAFKA_SASL_PASSWORD_FILE', s.KAFKA_SASL_PASSWORD_FILE, read)
          .toString('utf8')
          .replace(/\r?\n$/, '')
      : s.KAFKA_SASL_PASSWORD;
    if (!password) throw new ConfigError(`KAFKA_SASL_PASSWORD_FILE: ${s.KAFKA_SASL_PASSWORD_FILE} is empty`);
    // CommonConfig requires the user with SASL.
    const username = s.KAFKA_SASL_USERNAME ?? '';
    options.sasl = { mechanism: s.KAFKA_SASL_MECHANISM, username, password } as SASLOptions;
  }
  return options;
}

/**
 * Who the brokers take the client for, as ACLs name it: the SASL user, the client certificate's
 * subject (Kafka's default mapping of an mTLS client), else User:ANONYMOUS.
 */
export function kafkaPrincipal(s: KafkaSecurity, options: Pick<KafkaConfig, 'ssl'>): string {
  if (s.KAFKA_SECURITY_PROTOCOL.startsWith('SASL_')) return `User:${s.KAFKA_SASL_USERNAME}`;
  const cert = typeof options.ssl === 'object' ? options.ssl.cert : undefined;
  if (typeof cert === 'string') return `User:${new X509Certificate(cert).subject.split('\n').reverse().join(',')}`;
  return 'User:ANONYMOUS';
}
