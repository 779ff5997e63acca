/** Where records go: logsets and their log topics (their records: records.ts). */
import type { FastifyPluginAsync } from 'fastify';
import { validate } from '../errors.js';
import { newResourceId } from '../ids.js';
import { LOG_TOPICS, LOGSETS } from '../resources.js';
import { CreateLogset, CreateLogTopic } from '../schemas.js';
import { readRoutes, requireOwned, type ApiContext } from './context.js';

export const loggingRoutes = ({ store, topics, createKafkaTopic }: ApiContext): FastifyPluginAsync => async (app) => {
  readRoutes(app, store, '/logsets', LOGSETS);
  readRoutes(app, store, '/log-topics', LOG_TOPICS);

  app.post('/logsets', async (req, reply) => {
    const body = validate(CreateLogset, req.body);
    reply.code(201);
    return store.create(LOGSETS, { accountId: req.principal.accountId, ...body });
  });

  app.post('/log-topics', async (req, reply) => {
    const body = validate(CreateLogTopic, req.body);
    await requireOwned(store, LOGSETS, req.principal, body.logsetId, 'logsetId');
    const id = newResourceId(LOG_TOPICS.idPrefix);
    const kafkaTopic = topics.logTopic(id);
    // The Kafka topic first: a row without one would leave the publisher nowhere to deliver, while a
    // topic left without a row (the insert failed) is merely empty.
    await createKafkaTopic(kafkaTopic);
    reply.code(201);
    return store.create(LOG_TOPICS, { id, accountId: req.principal.accountId, kafkaTopic, ...body });
  });

};
