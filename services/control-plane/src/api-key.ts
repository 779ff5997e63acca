import { createHash, randomBytes } from 'node:crypto';

/** Keys are stored only as their sha256, so a database dump does not leak usable keys. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** The key of an `Authorization: Bearer <key>` header, or undefined when there is none. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/** A new API key: 32 random bytes, URL-safe, with a prefix that makes it recognisable in logs and secret scanners. */
export function newApiKey(): string {
  return `flk_${randomBytes(32).toString('base64url')}`;
}
