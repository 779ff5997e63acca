/** DATABASE_URL's TLS parameters read as libpq reads them (pure: the files come from a stand-in). */
import { describe, expect, it } from 'vitest';
import { pgConnection } from '../src/index.js';

const FILES: Record<string, string> = { '/ca.pem': 'CA', '/client.pem': 'CERT', '/client.key': 'KEY' };
const read = (path: string) => {
  if (!(path in FILES)) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
  return Buffer.from(FILES[path]);
};
const connect = (query: string) => pgConnection(`postgres://flow:pw@db.example:5432/flowlogs${query}`, read);
const BARE = 'postgres://flow:pw@db.example:5432/flowlogs';

describe('pgConnection', () => {
  it('leaves a URL without sslmode as it is', () => {
    expect(connect('?application_name=x')).toEqual({ connectionString: `${BARE}?application_name=x` });
  });

  it('verify-full: the CA read, the chain and the host name checked; the TLS parameters taken out of the URL', () => {
    const c = connect('?sslmode=verify-full&sslrootcert=/ca.pem');
    expect(c).toEqual({ connectionString: BARE, ssl: { ca: 'CA', rejectUnauthorized: true } });
  });

  it('verify-ca: the chain checked, not the name; require: encrypted only, or as verify-ca with a CA', () => {
    const verifyCa = connect('?sslmode=verify-ca&sslrootcert=/ca.pem').ssl as Record<string, unknown>;
    expect(verifyCa).toMatchObject({ ca: 'CA', rejectUnauthorized: true });
    expect(typeof verifyCa.checkServerIdentity).toBe('function');
    expect(connect('?sslmode=require').ssl).toMatchObject({ rejectUnauthorized: false });
    expect(connect('?sslmode=require&sslrootcert=/ca.pem').ssl).toMatchObject({ ca: 'CA', rejectUnauthorized: true });
  });

  it('sslrootcert=system: public CAs; a client certificate and key; disable', () => {
    expect(connect('?sslmode=verify-full&sslrootcert=system').ssl).toEqual({ rejectUnauthorized: true });
    expect(connect('?sslmode=verify-full&sslcert=/client.pem&sslkey=/client.key').ssl).toEqual({
      cert: 'CERT',
      key: 'KEY',
      rejectUnauthorized: true,
    });
    expect(connect('?sslmode=disable')).toEqual({ connectionString: BARE, ssl: false });
  });

  it('refuses what it cannot honour, naming DATABASE_URL and never its password', () => {
    const refused = (query: string) => {
      try {
        connect(query);
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    expect(refused('?sslmode=prefer')).toBe(
      'DATABASE_URL: sslmode=prefer is not supported (disable, require, verify-ca or verify-full: node-postgres cannot fall back to plaintext)',
    );
    expect(refused('?sslmode=verify-full&sslrootcert=/nowhere.pem')).toBe(
      'DATABASE_URL: cannot read sslrootcert /nowhere.pem: ENOENT',
    );
    expect(refused('?sslrootcert=/ca.pem')).toBe('DATABASE_URL: sslrootcert, sslcert or sslkey given without sslmode');
    expect(refused('?sslmode=verify-full&sslcert=/client.pem')).toBe(
      'DATABASE_URL: sslcert and sslkey go together (a client certificate and its key)',
    );
  });
});
