import type { Action, FlowLogRule } from '@flowlogs/contracts';

/** What a packet batch says of its ENI: enough to decide which rules cover it. */
export interface EniContext {
  eniId: string;
  accountId: string;
  vpcId: string;
  subnetId: string;
}

export function ruleCovers(rule: FlowLogRule, eni: EniContext): boolean {
  if (!rule.enabled || rule.accountId !== eni.accountId) return false;
  switch (rule.resourceType) {
    case 'NETWORKINTERFACE':
      return rule.resourceId === eni.eniId;
    case 'SUBNET':
      return rule.resourceId === eni.subnetId;
    case 'VPC':
      return rule.resourceId === eni.vpcId;
  }
}

export function ruleAccepts(rule: FlowLogRule, action: Action): boolean {
  return rule.trafficType === 'ALL' || rule.trafficType === action;
}

/** The enabled rules, indexed so each batch finds its rules once rather than each packet. */
export class RuleSet {
  private readonly rules = new Map<string, FlowLogRule>();

  /** Applies one message of the rules topic: a rule, or a tombstone (null) for a deleted one. */
  apply(id: string, rule: FlowLogRule | null): void {
    if (!rule) {
      this.rules.delete(id);
      return;
    }
    // Control planes republish rules at start-up: an older revision read later must not win.
    const known = this.rules.get(id);
    if (!known || known.revision <= rule.revision) this.rules.set(id, rule);
  }

  covering(eni: EniContext): FlowLogRule[] {
    const out: FlowLogRule[] = [];
    for (const rule of this.rules.values()) if (ruleCovers(rule, eni)) out.push(rule);
    return out;
  }

  get size(): number {
    return this.rules.size;
  }
}
