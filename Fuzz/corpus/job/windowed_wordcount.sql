-- windowed_wordcount.sql: Spark's WindowedNetworkWordCount, reduceByKeyAndWindow
-- over the last 30 seconds, every 10 seconds.
-- Producer:  nc -lk 9999     (or: eddy gen --listen 127.0.0.1:9999)
-- Run:       eddy run sql/windowed_wordcount.sql

SET batch_interval = '1s';

CREATE SOURCE lines (line TEXT)
  WITH (connector = 'socket', address = 'localhost:9999');

-- The efficient way: count each batch's words once, into a small stream of
-- (word, n) per batch ...
CREATE STREAM batch_counts AS
  SELECT s.value AS word, count(*) AS n
  FROM lines, split(lines.line, ' ') AS s
  WHERE s.value <> ''
  GROUP BY s.value;

-- ... keep the last 30 seconds of those small per-batch counts ...
CREATE WINDOW last_30s ON batch_counts RANGE '30s' SLIDE '10s';

-- ... and sum them every 10 seconds. Each word of the input is counted once,
-- not once per window it falls in.
SELECT word, sum(n) AS n FROM last_30s GROUP BY word ORDER BY n DESC, word LIMIT 10;
