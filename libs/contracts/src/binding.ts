/**
 * Trusted agents: which agent an ENI is bound to, and the proof a packet batch comes from it.
 *
 * The control plane binds an ENI to the agent that registers it and gives that agent a secret of its
 * own (one per agent and account); it publishes the binding on the compacted inventory topic (key:
 * bindingKey, as ENI ids are per account), which only the aggregator reads. The agent signs each packet batch: an HMAC-SHA256 of the
 * batch's bytes under its secret, in the Kafka header `flowlogs-signature`. The aggregator aggregates
 * a batch only when its ENI is bound and the signature is the bound agent's; the account, VPC and
 * subnet of its records come from the binding, never from the batch.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

export const SIGNATURE_HEADER = 'flowlogs-signature';

const Secret = z.string().regex(/^[A-Za-z0-9_-]{43}$/, '32 bytes, base64url');

/** The inventory topic's key for an account's ENI. */
export const bindingKey = (accountId: string, eniId: string) => `${accountId}/${eniId}`;

/** An ENI's binding as the inventory topic carries it. */
export const EniBinding = z.object({
  eniId: z.string(),
  accountId: z.string(),
  vpcId: z.string(),
  subnetId: z.string(),
  agentId: z.string(),
  secret: Secret,
  /**
   * The agent bound before this one and until when (unix s, the control plane's clock): its batches
   * of packets up to then, still in flight at the rebinding, are its own and still count.
   */
  previous: z.object({ agentId: z.string(), secret: Secret, until: z.number() }).optional(),
});
export type EniBinding = z.infer<typeof EniBinding>;

/** The batch's signature under an agent's secret (base64url of HMAC-SHA256 over the bytes). */
export function signBatch(secret: string, batch: Buffer): string {
  return createHmac('sha256', Buffer.from(secret, 'base64url')).update(batch).digest('base64url');
}

export type UntrustedReason = 'unbound' | 'unsigned' | 'other-agent' | 'bad-signature';

/**
 * Why the batch is not provably from the agent its ENI is bound to, or undefined when it is: one HMAC
 * per batch. `claim` is what the batch's own header says (account, ENI, agent, event time); `binding`
 * is the one for its account and ENI. Pure.
 */
export function untrustedBecause(
  binding: EniBinding | undefined,
  claim: { accountId: string; eniId: string; agentId: string; eventTime: number },
  batch: Buffer,
  signature: string | undefined,
): { reason: UntrustedReason; message: string } | undefined {
  if (!binding)
    return { reason: 'unbound', message: `ENI ${claim.eniId} of account ${claim.accountId} is not bound to any agent` };
  if (signature === undefined) return { reason: 'unsigned', message: `the batch for ENI ${claim.eniId} is not signed` };
  const { previous } = binding;
  let secret: string | undefined;
  if (claim.agentId === binding.agentId) secret = binding.secret;
  else if (previous && claim.agentId === previous.agentId && claim.eventTime <= previous.until)
    secret = previous.secret;
  if (secret === undefined) {
    return {
      reason: 'other-agent',
      message: `ENI ${claim.eniId} is bound to agent ${binding.agentId}, not ${claim.agentId}`,
    };
  }
  const expected = Buffer.from(signBatch(secret, batch), 'base64url');
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return {
      reason: 'bad-signature',
      message: `the batch for ENI ${claim.eniId} is not signed with agent ${claim.agentId}'s key`,
    };
  }
  return undefined;
}
