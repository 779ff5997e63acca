import type { FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken, hashApiKey } from '../api-key.js';
import { HttpError } from '../errors.js';
import type { Store } from '../store.js';

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** What an agent key may do: register its account's ENIs, be bound to them, and say who it is. */
const AGENT_ROUTES = new Set([
  'GET /v1/account',
  'GET /v1/network-interfaces/:id',
  'PUT /v1/network-interfaces/:id',
  'POST /v1/network-interfaces/:id/agent',
]);

/** An onRequest hook: resolves the bearer key to its account and role; keeps read-only keys to reads, agent keys to AGENT_ROUTES. */
export function authenticate(store: Store) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const key = bearerToken(req.headers.authorization);
    const principal = key === undefined ? undefined : await store.principal(hashApiKey(key));
    if (!principal) {
      reply.header('www-authenticate', 'Bearer');
      throw new HttpError(
        401,
        key === undefined ? 'missing API key: send "Authorization: Bearer <key>"' : 'unknown API key',
      );
    }
    if (principal.role === 'readonly' && !READ_METHODS.has(req.method) && !req.routeOptions.config?.openapi?.read) {
      throw new HttpError(403, 'this API key is read-only; writes need an admin key');
    }
    if (principal.role === 'agent' && !AGENT_ROUTES.has(`${req.method} ${req.routeOptions.url}`)) {
      throw new HttpError(403, "this API key is an agent key: it may only register its account's ENIs");
    }
    req.principal = principal;
  };
}
