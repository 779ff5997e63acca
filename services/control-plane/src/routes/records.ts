/** A log topic's records: search and export, analysis, and the live tail. */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { actionTotals, HistogramQuery, histogramBuckets, histogramStep, TopQuery, topItems } from '../analysis.js';
import { HttpError, validate } from '../errors.js';
import { queryPredicate } from '../query/index.js';
import { LOG_TOPICS } from '../resources.js';
import { EXPORT_CAP, EXPORTS, exportChunks, RangeQuery, recordPage, recordScope, recordSearch, SearchQuery } from '../search.js';
import { KEEPALIVE_MS, sseComment, sseEvent, startTail } from '../tail.js';
import { requireOwned, type ApiContext } from './context.js';

type ById = FastifyRequest<{ Params: { id: string } }>;

const now = () => Math.floor(Date.now() / 1000);

export const recordRoutes = ({ store, kafka }: ApiContext): FastifyPluginAsync => async (app) => {
  /** The caller's log topic and the records its query string selects. */
  const scoped = async <S extends z.ZodType<RangeQuery>>(req: ById, schema: S) => {
    const topic = await requireOwned(store, LOG_TOPICS, req.principal, req.params.id);
    const query: z.infer<S> = validate(schema, req.query, 'query');
    return { topic, query, scope: recordScope(topic.id, req.principal.accountId, query, now()) };
  };

  app.get('/log-topics/:id/records', async (req: ById, reply) => {
    const { topic, query, scope } = await scoped(req, SearchQuery);
    const search = recordSearch(scope, query);
    if (!query.format) return recordPage(await store.searchRecords(search), search);
    const { contentType } = EXPORTS[query.format];
    if ((await store.countRecords(search, EXPORT_CAP + 1)) > EXPORT_CAP) reply.header('x-flowlogs-truncated', 'true');
    return reply
      .header('content-type', contentType)
      .header('content-disposition', `attachment; filename="${topic.id}.${query.format === 'text' ? 'txt' : query.format}"`)
      .send(Readable.from(exportChunks(search, query.format, (s) => store.searchRecords(s))));
  });

  app.get('/log-topics/:id/analysis/top', async (req: ById) => {
    const { query, scope } = await scoped(req, TopQuery);
    return topItems(await store.topRecords(scope, query));
  });

  app.get('/log-topics/:id/analysis/histogram', async (req: ById) => {
    const { query, scope } = await scoped(req, HistogramQuery);
    const step = histogramStep(scope, query);
    return histogramBuckets(await store.histogram(scope, step), scope, step);
  });

  app.get('/log-topics/:id/analysis/actions', async (req: ById) => {
    const { scope } = await scoped(req, RangeQuery);
    return actionTotals(await store.actionTotals(scope));
  });

  /** Open tails, ended when the server closes (an open stream would keep it from closing). */
  const tails = new Set<() => void>();
  app.addHook('preClose', async () => { for (const end of tails) end(); });

  app.get('/log-topics/:id/tail', async (req: ById, reply) => {
    const topic = await requireOwned(store, LOG_TOPICS, req.principal, req.params.id);
    const query = validate(RangeQuery.pick({ q: true }), req.query, 'query');
    if (topic.format !== 'json') throw new HttpError(400, `live tail needs a JSON log topic; ${topic.id} is ${topic.format}`);
    const matches = queryPredicate(query.q);
    const res = reply.raw;
    const send = async (chunk: string) => {
      if (!res.write(chunk)) await new Promise((resolve) => { res.once('drain', resolve); res.once('close', resolve); });
    };
    const stop = await startTail({
      kafka: kafka.client, admin: kafka.admin, topic: topic.kafkaTopic,
      // The log topic's Kafka topic holds only this account's records; checked anyway, as SQL always does.
      matches: (r) => r.accountId === req.principal.accountId && matches(r),
      send: (r) => send(sseEvent('record', JSON.stringify(r))),
    });
    reply.hijack();
    if (res.destroyed) return void (await stop()); // the client left while the consumer started
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(sseComment(`tailing ${topic.id}`));
    const keepalive = setInterval(() => res.write(sseComment('keepalive')), KEEPALIVE_MS);
    const end = () => res.end();
    tails.add(end);
    res.once('close', () => {
      clearInterval(keepalive);
      tails.delete(end);
      stop().catch((err: unknown) => req.log.warn({ err, topic: topic.kafkaTopic }, 'tail consumer did not stop cleanly'));
    });
  });
};
