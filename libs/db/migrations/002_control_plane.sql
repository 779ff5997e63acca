-- Accounts and keys: the operator's account (the one FLOWLOGS_API_KEY bootstraps) may create accounts.
ALTER TABLE accounts ADD COLUMN operator boolean NOT NULL DEFAULT false;
UPDATE accounts SET operator = true WHERE id = (SELECT id FROM accounts WHERE name = 'default' ORDER BY created_at LIMIT 1);
CREATE UNIQUE INDEX accounts_operator ON accounts (operator) WHERE operator;
ALTER TABLE api_keys ADD COLUMN name text;
CREATE INDEX api_keys_account ON api_keys (account_id);

-- A log topic's format: "json", "text" or {"custom": ["srcaddr", …]} (validated field names), as jsonb.
ALTER TABLE log_topics DROP CONSTRAINT log_topics_format_check;
ALTER TABLE log_topics ALTER COLUMN format DROP DEFAULT;
ALTER TABLE log_topics ALTER COLUMN format TYPE jsonb USING to_jsonb(format);
ALTER TABLE log_topics ALTER COLUMN format SET DEFAULT '"json"';
ALTER TABLE log_topics ADD CONSTRAINT log_topics_format_check CHECK (CASE
  WHEN jsonb_typeof(format -> 'custom') = 'array' THEN jsonb_array_length(format -> 'custom') > 0
  ELSE format IN ('"json"', '"text"') END);

ALTER TABLE flow_logs ADD COLUMN description text NOT NULL DEFAULT '';

-- Every state of a flow log, written in the transaction that makes it.
CREATE TABLE flow_log_revisions (
  flow_log_id  text NOT NULL REFERENCES flow_logs(id) ON DELETE CASCADE,
  revision     integer NOT NULL,
  changed_at   timestamptz NOT NULL DEFAULT now(),
  flow_log     jsonb NOT NULL,
  PRIMARY KEY (flow_log_id, revision)
);
INSERT INTO flow_log_revisions (flow_log_id, revision, changed_at, flow_log)
SELECT id, revision, updated_at, jsonb_build_object('id', id, 'accountId', account_id, 'name', name, 'description', description,
  'resourceType', resource_type, 'resourceId', resource_id, 'trafficType', traffic_type, 'logTopicId', log_topic_id,
  'aggregationInterval', aggregation_interval, 'enabled', enabled, 'revision', revision, 'tags', tags, 'createdAt', created_at, 'updatedAt', updated_at)
FROM flow_logs;

-- Lookups of what depends on a resource before it is deleted.
CREATE INDEX subnets_vpc ON subnets (vpc_id);
CREATE INDEX network_interfaces_subnet ON network_interfaces (subnet_id, primary_ip);
CREATE INDEX network_interfaces_vpc ON network_interfaces (vpc_id);
CREATE INDEX log_topics_logset ON log_topics (logset_id);
CREATE INDEX flow_logs_log_topic ON flow_logs (log_topic_id);
CREATE INDEX flow_logs_resource ON flow_logs (resource_id);

-- A name is used once per account and kind. Duplicates made before this rule get their id appended.
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['vpcs', 'subnets', 'network_interfaces', 'logsets', 'log_topics', 'flow_logs'] LOOP
    EXECUTE format('UPDATE %I SET name = name || '' ('' || id || '')'' WHERE id IN (
      SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY account_id, name ORDER BY created_at, id) AS n FROM %I) d WHERE n > 1)', t, t);
    EXECUTE format('CREATE UNIQUE INDEX %I ON %I (account_id, name)', t || '_account_name', t);
  END LOOP;
END $$;
