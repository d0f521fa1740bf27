-- network_wordcount.sql: Spark's NetworkWordCount.
-- Start a producer:   nc -lk 9999        (or: eddy gen --listen 127.0.0.1:9999)
-- Then run:           eddy run sql/network_wordcount.sql
-- Every second, the words typed into nc during that second, counted.

SET batch_interval = '1s';

CREATE SOURCE lines (line TEXT)
  WITH (connector = 'socket', address = 'localhost:9999', format = 'lines');

CREATE STREAM words AS
  SELECT s.value AS word FROM lines, split(lines.line, ' ') AS s WHERE s.value <> '';

SELECT word, count(*) AS n FROM words GROUP BY word ORDER BY n DESC, word;
