import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { Admin, Kafka } from 'kafkajs';
import type { EniBinding, FlowLogRule, TopicNames } from '@flowlogs/contracts';
import { invalid, notFound, validate } from '../errors.js';
import { cidrContains, parseCidr, type Cidr, type IpAddress } from '../ip.js';
import type { Page, Resource } from '../resources.js';
import { openapi } from '../openapi.js';
import { listOf, ListQuery } from '../schemas.js';
import type { Principal, Store } from '../store.js';

/** What the /v1 route plugins need from the running service. */
export interface ApiContext {
  store: Store;
  topics: TopicNames;
  /** Resolves once the broker has acknowledged every rule (acks -1). */
  publishRules(rules: FlowLogRule[]): Promise<void>;
  /** Publishes an ENI's binding to its agent on the inventory topic (acked). */
  publishBinding(binding: EniBinding): Promise<void>;
  /** Publishes the tombstone of a deleted ENI's binding (acked): the aggregator takes no more batches for it. */
  deleteBinding(accountId: string, eniId: string): Promise<void>;
  /** Publishes the tombstone of a deleted flow log (acked): the aggregator forgets the rule. */
  deleteRule(id: string): Promise<void>;
  /** Publishes the settings of these log topics as stored now (acked): the publisher follows them. */
  publishLogTopics(where: { id?: string; logsetId?: string }): Promise<void>;
  /** Publishes the tombstone of a deleted log topic (acked). */
  deleteLogTopic(id: string): Promise<void>;
  /** Creates a Kafka topic with the installation's partition count; an existing one is kept. */
  createKafkaTopic(topic: string): Promise<void>;
  /** The broker: a client for the live tail's consumers, and the service's connected admin (consumer lag). */
  kafka: { client: Kafka; admin: Admin };
  /** Requests a minute per API key (FLOWLOGS_RATE_LIMIT). */
  rateLimit: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the /v1 authentication hook before any handler runs. */
    principal: Principal;
  }
}

interface Owned {
  id: string;
  accountId: string;
}

/**
 * The account's resource with this id. Another account's id answers 404 exactly like an unknown one,
 * whether it is in the path or referenced from a body (then the message names the body field), so ids
 * cannot be probed across accounts.
 */
export async function requireOwned<T extends Owned>(
  store: Store,
  resource: Resource<T>,
  principal: Principal,
  id: string,
  field?: string,
): Promise<T> {
  const [found] = await store.find(resource, { accountId: principal.accountId, id } as Partial<T>);
  if (!found) throw notFound(`${field ? `${field}: ` : ''}${resource.label} ${id} not found`);
  return found;
}

/** A 400 on `field` unless `inner` lies inside the parent's CIDR block (as stored, hence valid). */
export function requireInside(
  parent: { label: string; id: string; cidrBlock: string },
  inner: Cidr | IpAddress,
  field: string,
  value: string,
): void {
  if (!cidrContains(parseCidr(parent.cidrBlock)!, inner)) {
    throw invalid([
      { path: field, message: `${value} is not inside ${parent.label} ${parent.id}'s ${parent.cidrBlock}` },
    ]);
  }
}

export type ById = FastifyRequest<{ Params: { id: string } }>;

/** The account and id a `/:id` request is about. */
export const owned = (req: ById) => ({ accountId: req.principal.accountId, id: req.params.id });

interface ResourceRouteOptions {
  /** The list's query: `ListQuery` or an extension of it whose other fields are filters on the resource's fields. */
  query?: z.ZodType<z.output<typeof ListQuery>>;
  /** The DELETE: by default the store's, refused (409) while something depends on the resource. */
  remove?: (key: { accountId: string; id: string }) => Promise<boolean>;
}

/** GET <path> (a page of the account's items), GET <path>/:id and DELETE <path>/:id, which every resource has alike. */
export function resourceRoutes<T extends Owned>(
  app: FastifyInstance,
  store: Store,
  path: string,
  resource: Resource<T>,
  schema: z.ZodType<T>,
  options: ResourceRouteOptions = {},
): void {
  const { label } = resource;
  const { query = ListQuery, remove = (key) => store.remove(resource, key) } = options;
  app.get(path, openapi({ summary: `List ${label}s`, query, response: listOf(schema) }), async (req) => {
    const { limit, cursor, ...filters } = validate(query, req.query, 'query');
    const page: Page = { limit, after: cursor };
    return store.list(resource, { ...filters, accountId: req.principal.accountId } as Partial<T>, page);
  });
  app.get(`${path}/:id`, openapi({ summary: `Get a ${label}`, response: schema }), async (req: ById) =>
    requireOwned(store, resource, req.principal, req.params.id),
  );
  app.delete(
    `${path}/:id`,
    openapi({ summary: `Delete a ${label}`, response: null, status: 204, errors: [409] }),
    async (req: ById, reply) => {
      if (!(await remove(owned(req)))) throw notFound(`${label} ${req.params.id} not found`);
      reply.code(204);
    },
  );
}

/** PATCH <path>/:id: some of the resource's fields, validated by `body`; `then` runs on the changed resource before the answer. */
export function modifyRoute<T extends Owned>(
  app: FastifyInstance,
  store: Store,
  path: string,
  resource: Resource<T>,
  schema: z.ZodType<T>,
  body: z.ZodType<Partial<T>>,
  then: (changed: T) => Promise<void> = async () => {},
): void {
  app.patch(
    `${path}/:id`,
    openapi({ summary: `Modify a ${resource.label}`, body, response: schema, errors: [409] }),
    async (req: ById) => {
      const changed = await store.update(resource, owned(req), validate(body, req.body));
      if (!changed) throw notFound(`${resource.label} ${req.params.id} not found`);
      await then(changed);
      return changed;
    },
  );
}
