-- Resources. Ids are prefixed strings (vpc-…, subnet-…, eni-…) as in the console.
CREATE TABLE accounts (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  id          text PRIMARY KEY,
  account_id  text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  key_hash    text NOT NULL UNIQUE,            -- sha256 of the key; the key itself is never stored
  role        text NOT NULL CHECK (role IN ('admin', 'readonly')),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE vpcs (
  id          text PRIMARY KEY,
  account_id  text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name        text NOT NULL,
  cidr_block  cidr NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE subnets (
  id          text PRIMARY KEY,
  account_id  text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  vpc_id      text NOT NULL REFERENCES vpcs(id),
  name        text NOT NULL,
  cidr_block  cidr NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE network_interfaces (
  id          text PRIMARY KEY,
  account_id  text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  vpc_id      text NOT NULL REFERENCES vpcs(id),
  subnet_id   text NOT NULL REFERENCES subnets(id),
  name        text NOT NULL,
  primary_ip  inet NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE logsets (
  id              text PRIMARY KEY,
  account_id      text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name            text NOT NULL,
  retention_days  integer NOT NULL DEFAULT 7 CHECK (retention_days BETWEEN 1 AND 3650),
  created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE log_topics (
  id           text PRIMARY KEY,
  account_id   text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  logset_id    text NOT NULL REFERENCES logsets(id),
  name         text NOT NULL,
  format       text NOT NULL DEFAULT 'json' CHECK (format IN ('json', 'text')),
  kafka_topic  text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE flow_logs (
  id                    text PRIMARY KEY,
  account_id            text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name                  text NOT NULL,
  resource_type         text NOT NULL CHECK (resource_type IN ('NETWORKINTERFACE', 'SUBNET', 'VPC')),
  resource_id           text NOT NULL,
  traffic_type          text NOT NULL CHECK (traffic_type IN ('ALL', 'ACCEPT', 'REJECT')),
  log_topic_id          text NOT NULL REFERENCES log_topics(id),
  aggregation_interval  integer NOT NULL CHECK (aggregation_interval IN (5, 10, 30, 60, 300, 600)),
  enabled               boolean NOT NULL DEFAULT true,
  revision              integer NOT NULL DEFAULT 1,
  tags                  jsonb NOT NULL DEFAULT '[]',
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now()
);

-- Flow records, partitioned by day of window start (unix seconds) so retention drops whole partitions.
-- The primary key includes window_start because a partitioned table's unique keys must.
CREATE TABLE flow_records (
  record_id       text NOT NULL,
  window_start    bigint NOT NULL,
  window_end      bigint NOT NULL,
  log_topic_id    text NOT NULL,
  flow_log_id     text NOT NULL,
  account_id      text NOT NULL,
  interface_id    text NOT NULL,
  srcaddr         inet,
  dstaddr         inet,
  srcport         integer,
  dstport         integer,
  protocol        smallint,
  packets         bigint,
  bytes           bigint,
  start_time      bigint,
  end_time        bigint,
  action          text,
  log_status      text NOT NULL,
  record          json NOT NULL,               -- the JSON record as delivered (json keeps its key order; jsonb would not)
  PRIMARY KEY (record_id, window_start)
) PARTITION BY RANGE (window_start);

CREATE INDEX flow_records_topic_time ON flow_records (log_topic_id, window_start);
CREATE INDEX flow_records_topic_src ON flow_records (log_topic_id, srcaddr, window_start);
CREATE INDEX flow_records_topic_dst ON flow_records (log_topic_id, dstaddr, window_start);
