-- Pipeline health of a flow log (GET /v1/flow-logs/:id/health): its newest windows and its last hour.
CREATE INDEX flow_records_flow_log_time ON flow_records (flow_log_id, window_start);
