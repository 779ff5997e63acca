-- Trusted agents. Keys of role 'agent' may register their account's ENIs and nothing else. Each agent
-- (per account) has a secret of its own that signs its packet batches; an ENI is bound to one agent at
-- a time (the aggregator learns bindings from the inventory topic), and remembers the agent bound
-- before it and until when, so that agent's batches still in flight at the rebinding count.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN ('admin', 'readonly', 'agent'));

CREATE TABLE agents (
  account_id  text NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  agent_id    text NOT NULL,
  secret      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, agent_id)
);

CREATE TABLE eni_bindings (
  account_id      text NOT NULL,
  eni_id          text NOT NULL,
  agent_id        text NOT NULL,
  previous_agent  text,
  previous_until  timestamptz,
  bound_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, eni_id),
  FOREIGN KEY (account_id, eni_id) REFERENCES network_interfaces (account_id, id) ON DELETE CASCADE,
  FOREIGN KEY (account_id, agent_id) REFERENCES agents (account_id, agent_id) ON DELETE CASCADE
);
