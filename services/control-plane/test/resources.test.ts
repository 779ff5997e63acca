import { describe, expect, it } from 'vitest';
import { FLOW_LOGS, fromRow, insertSql, LOG_TOPICS, selectSql, updateSql, VPCS } from '../src/resources.js';
import { toRule } from '../src/rules.js';
import type { FlowLog } from '../src/schemas.js';

describe('resource SQL', () => {
  it('inserts only the given fields, as parameters, returning every column', () => {
    const { text, values } = insertSql(VPCS, {
      id: 'vpc-1',
      accountId: '1',
      name: "o'brien",
      cidrBlock: '10.0.0.0/16',
    });
    expect(text).toBe(
      'INSERT INTO vpcs (id, account_id, name, cidr_block) VALUES ($1, $2, $3, $4) RETURNING id, account_id, name, cidr_block, created_at',
    );
    expect(values).toEqual(['vpc-1', '1', "o'brien", '10.0.0.0/16']);
  });

  it('sends jsonb fields as JSON text', () => {
    const { values } = insertSql(FLOW_LOGS, { id: 'fl-1', tags: [{ key: 'team', value: 'net' }] });
    expect(values).toEqual(['fl-1', '[{"key":"team","value":"net"}]']);
  });

  it('selects by the given fields, oldest first', () => {
    expect(selectSql(VPCS, { accountId: '1', id: 'vpc-1' })).toEqual({
      text: 'SELECT id, account_id, name, cidr_block, created_at FROM vpcs WHERE id = $1 AND account_id = $2 ORDER BY created_at, id',
      values: ['vpc-1', '1'],
    });
    expect(selectSql(VPCS, {}).text).toBe(
      'SELECT id, account_id, name, cidr_block, created_at FROM vpcs ORDER BY created_at, id',
    );
  });

  it('pages by position, and matches jsonb fields by containment', () => {
    expect(
      selectSql(
        FLOW_LOGS,
        { accountId: '1', tags: [{ key: 'env', value: 'prod' }] },
        { limit: 2, after: { createdAt: '2025-01-01 00:00:00.123456+00', id: 'fl-1' } },
      ),
    ).toEqual({
      text: expect.stringMatching(
        / FROM flow_logs WHERE account_id = \$1 AND tags @> \$2 AND \(created_at, id\) > \(\$3::timestamptz, \$4\) ORDER BY created_at, id LIMIT 3$/,
      ),
      values: ['1', '[{"key":"env","value":"prod"}]', '2025-01-01 00:00:00.123456+00', 'fl-1'],
    });
    expect(selectSql(VPCS, {}, { limit: 10 }).text).toBe(
      'SELECT id, account_id, name, cidr_block, created_at, created_at::text AS position FROM vpcs ORDER BY created_at, id LIMIT 11',
    );
  });

  it('updates the given fields of the matching rows, a format as JSON', () => {
    expect(updateSql(LOG_TOPICS, { accountId: '1', id: 'topic-1' }, { format: 'text' })).toEqual({
      text: 'UPDATE log_topics SET format = $1 WHERE id = $2 AND account_id = $3 RETURNING id, account_id, logset_id, name, format, kafka_topic, created_at',
      values: ['"text"', 'topic-1', '1'],
    });
    expect(
      updateSql(FLOW_LOGS, { accountId: '1', id: 'fl-1' }, { name: 'x' }, ['revision = revision + 1']).text,
    ).toMatch(/^UPDATE flow_logs SET name = \$1, revision = revision \+ 1 WHERE id = \$2 AND account_id = \$3 /);
  });
});

describe('rows', () => {
  const createdAt = new Date('2025-01-01T00:00:00Z');
  const row = {
    id: 'fl-1',
    account_id: '123456789012',
    name: 'web',
    resource_type: 'SUBNET',
    resource_id: 'subnet-1',
    traffic_type: 'REJECT',
    log_topic_id: 'topic-1',
    aggregation_interval: 60,
    enabled: true,
    revision: 3,
    tags: [{ key: 'k', value: 'v' }],
    created_at: createdAt,
    updated_at: createdAt,
  };

  it('map to the API shape', () => {
    expect(fromRow(FLOW_LOGS, row)).toEqual({
      id: 'fl-1',
      accountId: '123456789012',
      name: 'web',
      resourceType: 'SUBNET',
      resourceId: 'subnet-1',
      trafficType: 'REJECT',
      logTopicId: 'topic-1',
      aggregationInterval: 60,
      enabled: true,
      revision: 3,
      tags: [{ key: 'k', value: 'v' }],
      createdAt,
      updatedAt: createdAt,
    });
  });

  it('and a flow log to the published rule, without tags and timestamps', () => {
    expect(toRule(fromRow(FLOW_LOGS, row) as FlowLog)).toEqual({
      id: 'fl-1',
      accountId: '123456789012',
      name: 'web',
      resourceType: 'SUBNET',
      resourceId: 'subnet-1',
      trafficType: 'REJECT',
      logTopicId: 'topic-1',
      aggregationInterval: 60,
      enabled: true,
      revision: 3,
    });
  });
});
