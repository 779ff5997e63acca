/** Accounts and their API keys. Keys are stored hashed: a key is shown once, when it is created. */
import type { FastifyPluginAsync } from 'fastify';
import { hashApiKey, newApiKey } from '../api-key.js';
import { HttpError, validate } from '../errors.js';
import { openapi } from '../openapi.js';
import { ACCOUNTS, API_KEYS } from '../resources.js';
import { ApiKey, CallerAccount, CreateAccount, CreateApiKey, CreatedAccount, CreatedApiKey } from '../schemas.js';
import { resourceRoutes, type ApiContext } from './context.js';

export const accountRoutes =
  ({ store }: ApiContext): FastifyPluginAsync =>
  async (app) => {
    // A key may delete itself, but not the account's last admin key (409): that would lock the account out.
    resourceRoutes(app, store, '/api-keys', API_KEYS, ApiKey, { remove: (key) => store.deleteApiKey(key) });

    app.post(
      '/api-keys',
      openapi({ summary: 'Create an API key (shown once)', body: CreateApiKey, response: CreatedApiKey, status: 201 }),
      async (req, reply) => {
        const body = validate(CreateApiKey, req.body);
        const key = newApiKey();
        reply.code(201);
        return {
          ...(await store.createApiKey({ accountId: req.principal.accountId, ...body, keyHash: hashApiKey(key) })),
          key,
        };
      },
    );

    app.get(
      '/account',
      openapi({ summary: "The caller's account, and its key's role", response: CallerAccount }),
      async (req) => ({
        ...(await store.find(ACCOUNTS, { id: req.principal.accountId }))[0],
        role: req.principal.role,
      }),
    );

    app.post(
      '/accounts',
      openapi({
        summary: 'Create an account (operator only)',
        description:
          "Only an admin key of the installation's operator account (the one FLOWLOGS_API_KEY bootstraps) may. The answer holds the new account's first admin key, shown once.",
        body: CreateAccount,
        response: CreatedAccount,
        status: 201,
      }),
      async (req, reply) => {
        if (!req.principal.operator) throw new HttpError(403, "only the operator account's admin keys create accounts");
        const body = validate(CreateAccount, req.body);
        const adminKey = newApiKey();
        reply.code(201);
        return { ...(await store.createAccount(body.name, hashApiKey(adminKey))), adminKey };
      },
    );
  };
