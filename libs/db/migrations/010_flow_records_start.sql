-- Searches sort by the record's start by default (a record without one, NODATA or SKIPDATA, at its
-- window's start): this index walks that order within a log topic, so a page of 100 reads about 100
-- rows rather than sorting every record of the range (400,000 records in range: 270 ms -> 1 ms).
CREATE INDEX flow_records_topic_start ON flow_records (log_topic_id, (coalesce(start_time, window_start)));
