/** Where records go: logsets and their log topics (their records: records.ts). */
import type { FastifyPluginAsync } from 'fastify';
import { validate } from '../errors.js';
import { newResourceId } from '../ids.js';
import { openapi } from '../openapi.js';
import { LOG_TOPICS, LOGSETS } from '../resources.js';
import { CreateLogset, CreateLogTopic, Logset, LogTopic, ModifyLogset, ModifyLogTopic } from '../schemas.js';
import { modifyRoute, requireOwned, resourceRoutes, type ApiContext } from './context.js';

export const loggingRoutes =
  ({ store, topics, createKafkaTopic, publishLogTopics, deleteLogTopic }: ApiContext): FastifyPluginAsync =>
  async (app) => {
    // Every change the publisher needs to know (a log topic's format, its logset's retention) is on the
    // log-topics topic before the answer.
    resourceRoutes(app, store, '/logsets', LOGSETS, Logset);
    resourceRoutes(app, store, '/log-topics', LOG_TOPICS, LogTopic, {
      remove: async (key) => {
        if (!(await store.remove(LOG_TOPICS, key))) return false;
        await deleteLogTopic(key.id);
        return true;
      },
    });
    modifyRoute(app, store, '/logsets', LOGSETS, Logset, ModifyLogset, (logset) =>
      publishLogTopics({ logsetId: logset.id }),
    );
    modifyRoute(app, store, '/log-topics', LOG_TOPICS, LogTopic, ModifyLogTopic, (logTopic) =>
      publishLogTopics({ id: logTopic.id }),
    );

    app.post(
      '/logsets',
      openapi({ summary: 'Create a logset', body: CreateLogset, response: Logset, status: 201, errors: [409] }),
      async (req, reply) => {
        const body = validate(CreateLogset, req.body);
        reply.code(201);
        return store.create(LOGSETS, { accountId: req.principal.accountId, ...body });
      },
    );

    app.post(
      '/log-topics',
      openapi({
        summary: 'Create a log topic in a logset',
        description:
          'format: "json" (default), "text", or {"custom": [field, …]} with the field names of GET /v1/fields.',
        body: CreateLogTopic,
        response: LogTopic,
        status: 201,
        errors: [404, 409],
      }),
      async (req, reply) => {
        const body = validate(CreateLogTopic, req.body);
        await requireOwned(store, LOGSETS, req.principal, body.logsetId, 'logsetId');
        const id = newResourceId(LOG_TOPICS.idPrefix);
        const kafkaTopic = topics.logTopic(id);
        // The Kafka topic first: a row without one would leave the publisher nowhere to deliver, while a
        // topic left without a row (the insert failed) is merely empty.
        await createKafkaTopic(kafkaTopic);
        const logTopic = await store.create(LOG_TOPICS, {
          id,
          accountId: req.principal.accountId,
          kafkaTopic,
          ...body,
        });
        await publishLogTopics({ id });
        reply.code(201);
        return logTopic;
      },
    );
  };
