/**
 * The web console: static ES modules and CSS from services/control-plane/console, no build step.
 * `/` is its index.html (the console routes by hash: #/flow-logs, #/search/<logTopicId>), the rest is
 * under /console/, and /README.md is the project's README. The files call the /v1 API with the key the
 * user signs in with; nothing here is authenticated, since the files hold no data.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

const ROOT = fileURLToPath(new URL('../../console/', import.meta.url));
/** The project's README, which the console links to (how to run a capture agent) as plain text. */
const README = fileURLToPath(new URL('../../../../README.md', import.meta.url));

// Only the control plane is ever contacted: no CDN, no inline script, no framing by other sites.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const consoleRoutes: FastifyPluginAsync = async (app) => {
  // Encapsulated: the hook runs for this plugin's routes only, never for the API's.
  app.addHook('onSend', async (_req, reply) => {
    reply.headers(SECURITY_HEADERS);
  });
  await app.register(fastifyStatic, { root: ROOT, prefix: '/console/', index: 'index.html' });
  app.get('/', (_req, reply) => reply.sendFile('index.html'));
  app.get('/console', (_req, reply) => reply.redirect('/'));
  app.get('/README.md', async (_req, reply) =>
    reply.type('text/plain; charset=utf-8').send(await readFile(README, 'utf8')),
  );
};

export default consoleRoutes;
