import type { FlowLogRule } from '@flowlogs/contracts';
import type { FlowLog } from './schemas.js';

/** The part of a flow log the aggregator needs, as published on the rules topic. */
export function toRule(f: FlowLog): FlowLogRule {
  return {
    id: f.id,
    accountId: f.accountId,
    name: f.name,
    resourceType: f.resourceType,
    resourceId: f.resourceId,
    trafficType: f.trafficType,
    logTopicId: f.logTopicId,
    aggregationInterval: f.aggregationInterval,
    enabled: f.enabled,
    revision: f.revision,
  };
}
