-- An ENI's id is its account's own: capture agents register ENIs under ids they choose (PUT), so a
-- global id would tell one account whether another uses it. Two accounts may now hold the same id;
-- flow logs and rules already match an ENI together with its account.
ALTER TABLE network_interfaces DROP CONSTRAINT network_interfaces_pkey;
ALTER TABLE network_interfaces ADD PRIMARY KEY (account_id, id);
