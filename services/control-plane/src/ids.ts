import { randomBytes, randomInt } from 'node:crypto';

/**
 * A console-style resource id: `vpc-0a1b2c3d4e5f67890`. 17 hex digits like AWS's long ids, so random
 * ids do not collide in practice (8 digits would, after tens of thousands of resources).
 */
export function newResourceId(prefix: string): string {
  return `${prefix}-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

/** A 12-digit account id, like AWS's. */
export function newAccountId(): string {
  return Array.from({ length: 12 }, () => randomInt(10)).join('');
}
