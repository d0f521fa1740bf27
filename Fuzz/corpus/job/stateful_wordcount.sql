-- stateful_wordcount.sql: Spark's StatefulNetworkWordCount (updateStateByKey),
-- running counts of every word since the job started.
-- Producer:  nc -lk 9999
-- Run:       eddy run sql/stateful_wordcount.sql

SET batch_interval = '1s';

CREATE SOURCE lines (line TEXT)
  WITH (connector = 'socket', address = 'localhost:9999');

-- State lives across batches. INITIAL seeds it once, like Spark's initialRDD.
CREATE STATE TABLE totals (word TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID
  INITIAL AS SELECT 'hello', 1 UNION ALL SELECT 'world', 1;

-- The update function: add each batch's counts to the running totals.
INSERT INTO totals
  SELECT s.value, count(*) FROM lines, split(lines.line, ' ') AS s
  WHERE s.value <> '' GROUP BY s.value
  ON CONFLICT(word) DO UPDATE SET n = n + excluded.n;

-- updateStateByKey prints the whole state every batch.
SELECT word, n FROM totals ORDER BY n DESC, word LIMIT 10;
