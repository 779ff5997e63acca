import type { FastifyInstance } from 'fastify';
import type { Admin, Kafka } from 'kafkajs';
import type { FlowLogRule, TopicNames } from '@flowlogs/contracts';
import { invalid, notFound } from '../errors.js';
import { cidrContains, parseCidr, type Cidr, type IpAddress } from '../ip.js';
import type { Resource } from '../resources.js';
import type { Principal, Store } from '../store.js';

/** What the /v1 route plugins need from the running service. */
export interface ApiContext {
  store: Store;
  topics: TopicNames;
  /** Resolves once the broker has acknowledged every rule (acks -1). */
  publishRules(rules: FlowLogRule[]): Promise<void>;
  /** Publishes the tombstone of a deleted flow log (acked): the aggregator forgets the rule. */
  deleteRule(id: string): Promise<void>;
  /** Creates a Kafka topic with the installation's partition count; an existing one is kept. */
  createKafkaTopic(topic: string): Promise<void>;
  /** The broker: a client for the live tail's consumers, and the service's connected admin (consumer lag). */
  kafka: { client: Kafka; admin: Admin };
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
export async function requireOwned<T extends Owned>(store: Store, resource: Resource<T>, principal: Principal, id: string, field?: string): Promise<T> {
  const [found] = await store.find(resource, { accountId: principal.accountId, id } as Partial<T>);
  if (!found) throw notFound(`${field ? `${field}: ` : ''}${resource.label} ${id} not found`);
  return found;
}

/** A 400 on `field` unless `inner` lies inside the parent's CIDR block (as stored, hence valid). */
export function requireInside(parent: { label: string; id: string; cidrBlock: string }, inner: Cidr | IpAddress, field: string, value: string): void {
  if (!cidrContains(parseCidr(parent.cidrBlock)!, inner)) {
    throw invalid([{ path: field, message: `${value} is not inside ${parent.label} ${parent.id}'s ${parent.cidrBlock}` }]);
  }
}

/** GET <path> (the account's items) and GET <path>/:id, which every resource has alike. */
export function readRoutes<T extends Owned>(app: FastifyInstance, store: Store, path: string, resource: Resource<T>): void {
  app.get(path, async (req) => ({ items: await store.find(resource, { accountId: req.principal.accountId } as Partial<T>) }));
  app.get<{ Params: { id: string } }>(`${path}/:id`, async (req) => requireOwned(store, resource, req.principal, req.params.id));
}
