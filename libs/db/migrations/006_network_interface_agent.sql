-- The capture agent that registered an ENI (PUT /v1/network-interfaces/:id with agentId), and when it
-- last did (each agent start): the console shows which agent an ENI is on. Null for ENIs made by hand.
ALTER TABLE network_interfaces ADD COLUMN agent_id text, ADD COLUMN registered_at timestamptz;
