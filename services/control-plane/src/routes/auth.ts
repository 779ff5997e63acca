import type { FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken, hashApiKey } from '../api-key.js';
import { HttpError } from '../errors.js';
import type { Store } from '../store.js';

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** An onRequest hook: resolves the bearer key to its account and role, and keeps read-only keys to reads. */
export function authenticate(store: Store) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const key = bearerToken(req.headers.authorization);
    const principal = key === undefined ? undefined : await store.principal(hashApiKey(key));
    if (!principal) {
      reply.header('www-authenticate', 'Bearer');
      throw new HttpError(401, key === undefined ? 'missing API key: send "Authorization: Bearer <key>"' : 'unknown API key');
    }
    if (principal.role === 'readonly' && !READ_METHODS.has(req.method) && !req.routeOptions.config?.openapi?.read) {
      throw new HttpError(403, 'this API key is read-only; writes need an admin key');
    }
    req.principal = principal;
  };
}
