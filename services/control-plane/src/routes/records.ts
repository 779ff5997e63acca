/** A log topic's records: search and export, analysis, and the live tail. */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  ActionTotals,
  actionTotals,
  Histogram,
  HistogramQuery,
  histogramBuckets,
  histogramStep,
  TopItems,
  TopQuery,
  topItems,
} from '../analysis.js';
import { HttpError, validate } from '../errors.js';
import { openapi } from '../openapi.js';
import { FIELD_LIST, FieldList, queryPredicate } from '../query/index.js';
import { LOG_TOPICS } from '../resources.js';
import {
  EXPORT_CAP,
  EXPORTS,
  exportChunks,
  RangeQuery,
  RecordPage,
  recordPage,
  recordScope,
  recordSearch,
  SearchQuery,
} from '../search.js';
import { formatName, KEEPALIVE_MS, sseComment, sseEvent, startTail, TAIL_EVENT } from '../tail.js';
import { requireOwned, type ApiContext } from './context.js';

type ById = FastifyRequest<{ Params: { id: string } }>;

const now = () => Math.floor(Date.now() / 1000);

const RANGE =
  'Records whose aggregation window overlaps [from, to) (unix seconds; by default the hour before now), matching the query `q`.';
const ANALYSIS = `${RANGE} Only OK records count.`;
const EXPORT_TYPES = Object.entries(EXPORTS)
  .map(([format, { contentType }]) => `\`format=${format}\` answers ${contentType}`)
  .join(', ');

/** The tail takes only the query: it starts at now and has no end. */
const TailQuery = RangeQuery.pick({ q: true });

export const recordRoutes =
  ({ store, kafka }: ApiContext): FastifyPluginAsync =>
  async (app) => {
    /** The caller's log topic and the records its query string (or, for a POST, its body) selects. */
    const scoped = async <S extends z.ZodType<RangeQuery>>(req: ById, schema: S, input: 'query' | 'body' = 'query') => {
      const topic = await requireOwned(store, LOG_TOPICS, req.principal, req.params.id);
      const query: z.infer<S> = validate(schema, req[input], input);
      return { topic, query, scope: recordScope(topic.id, req.principal.accountId, query, now()) };
    };

    app.get(
      '/fields',
      openapi({
        summary: "The flow record's fields",
        description:
          'Every field of a record, in its JSON order: its name (as queries and custom formats write it), JSON key, ' +
          "kind, whether NODATA/SKIPDATA records keep it, whether it is part of the flow key, and the console's column for it.",
        response: FieldList,
      }),
      async () => FIELD_LIST,
    );

    /** A page of records, or the whole result as an export: the search's answer by GET and by POST alike. */
    const search = async (req: ById, reply: FastifyReply, input: 'query' | 'body') => {
      const { topic, query, scope } = await scoped(req, SearchQuery, input);
      const wanted = recordSearch(scope, query);
      if (!query.format) return recordPage(await store.searchRecords(wanted), wanted);
      const { contentType } = EXPORTS[query.format];
      if ((await store.countRecords(wanted, EXPORT_CAP + 1)) > EXPORT_CAP) reply.header('x-flowlogs-truncated', 'true');
      return reply
        .header('content-type', contentType)
        .header(
          'content-disposition',
          `attachment; filename="${topic.id}.${query.format === 'text' ? 'txt' : query.format}"`,
        )
        .send(Readable.from(exportChunks(wanted, query.format, (s) => store.searchRecords(s))));
    };

    const SEARCH =
      `${RANGE} Without \`format\`: a page of records in the order of \`sort\`, and the cursor of the next. ` +
      `With \`format\`: the whole result (at most ${EXPORT_CAP} records, header x-flowlogs-truncated: true when there were more) as an attachment; ${EXPORT_TYPES}.`;

    app.get(
      '/log-topics/:id/records',
      openapi({
        summary: 'Search records, or export them (format=ndjson|csv|text)',
        description: SEARCH,
        query: SearchQuery,
        response: RecordPage,
      }),
      (req: ById, reply) => search(req, reply, 'query'),
    );

    app.post(
      '/log-topics/:id/records/search',
      openapi({
        summary: 'Search records, the search in the body',
        description:
          `The same search as GET …/records, its parameters as a JSON body (numbers as numbers), for a query \`q\` too long ` +
          `for a URL (headers over 16 KB answer 431). Read-only keys may call it. ${SEARCH}`,
        body: SearchQuery,
        response: RecordPage,
        read: true,
      }),
      (req: ById, reply) => search(req, reply, 'body'),
    );

    app.get(
      '/log-topics/:id/analysis/top',
      openapi({
        summary: 'Top keys by bytes, packets or flows',
        description: `${ANALYSIS} Without \`q\`, the whole days and 10-minute slots of the range are summed from rollups kept as records are stored, and only the records in the partial slots at its ends are read: the same answer, from far fewer rows (\`source: rollups\`). With \`q\`, or when the rollups cannot settle the answer, every record of the range is read (\`source: records\`).`,
        query: TopQuery,
        response: TopItems,
      }),
      async (req: ById) => {
        const { query, scope } = await scoped(req, TopQuery);
        const { rows, source } = await store.topKeys(scope, query);
        return topItems(rows, source);
      },
    );

    app.get(
      '/log-topics/:id/analysis/histogram',
      openapi({
        summary: 'Totals over time',
        description: `${ANALYSIS} The range in \`buckets\` buckets, or buckets \`step\` seconds wide; empty ones are zeros. Summed from a per-window rollup (\`source: rollups\`) unless \`q\` names a field other than action and protocol (\`source: records\`).`,
        query: HistogramQuery,
        response: Histogram,
      }),
      async (req: ById) => {
        const { query, scope } = await scoped(req, HistogramQuery);
        const step = histogramStep(scope, query);
        const { rows, source } = await store.histogram(scope, step);
        return histogramBuckets(rows, scope, step, source);
      },
    );

    app.get(
      '/log-topics/:id/analysis/actions',
      openapi({
        summary: 'Totals of accepted and rejected traffic',
        description: ANALYSIS,
        query: RangeQuery,
        response: ActionTotals,
      }),
      async (req: ById) => {
        const { scope } = await scoped(req, RangeQuery);
        return actionTotals(await store.actionTotals(scope));
      },
    );

    /** Open tails, ended when the server closes (an open stream would keep it from closing). */
    const tails = new Set<() => void>();
    app.addHook('preClose', async () => {
      for (const end of tails) end();
    });

    app.get(
      '/log-topics/:id/tail',
      openapi({
        summary: 'Live tail (Server-Sent Events)',
        description:
          `The records published from now on that match the query \`q\`, each as an event \`${TAIL_EVENT}\` whose data is the record's JSON; ` +
          `a comment every ${KEEPALIVE_MS / 1000} s keeps the connection open. Only for log topics of format json (400 otherwise).`,
        query: TailQuery,
        response: z.string(),
        contentType: 'text/event-stream',
      }),
      async (req: ById, reply) => {
        const topic = await requireOwned(store, LOG_TOPICS, req.principal, req.params.id);
        const query = validate(TailQuery, req.query, 'query');
        if (topic.format !== 'json')
          throw new HttpError(400, `live tail needs a JSON log topic; ${topic.id} is ${formatName(topic.format)}`);
        const matches = queryPredicate(query.q);
        const res = reply.raw;
        const send = async (chunk: string) => {
          if (!res.write(chunk))
            await new Promise((resolve) => {
              res.once('drain', resolve);
              res.once('close', resolve);
            });
        };
        const stop = await startTail({
          kafka: kafka.client,
          admin: kafka.admin,
          topic: topic.kafkaTopic,
          // The log topic's Kafka topic holds only this account's records; checked anyway, as SQL always does.
          matches: (r) => r.accountId === req.principal.accountId && matches(r),
          send: (r) => send(sseEvent(TAIL_EVENT, JSON.stringify(r))),
        });
        reply.hijack();
        if (res.destroyed) return void (await stop()); // the client left while the consumer started
        res.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-cache',
          connection: 'keep-alive',
        });
        res.write(sseComment(`tailing ${topic.id}`));
        const keepalive = setInterval(() => res.write(sseComment('keepalive')), KEEPALIVE_MS);
        const end = () => res.end();
        tails.add(end);
        res.once('close', () => {
          clearInterval(keepalive);
          tails.delete(end);
          stop().catch((err: unknown) =>
            req.log.warn({ err, topic: topic.kafkaTopic }, 'tail consumer did not stop cleanly'),
          );
        });
      },
    );
  };
