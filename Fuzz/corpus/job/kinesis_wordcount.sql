-- kinesis_wordcount.sql: Spark's KinesisWordCountASL. One receiver per shard,
-- word counts per batch; positions are kept after each committed batch.
-- Producer:  eddy gen --kinesis eddy-words --rate 100 --words 8
-- Run:       eddy run sql/kinesis_wordcount.sql --checkpoint state/kinesis
-- Against a local server add endpoint = 'http://127.0.0.1:4567' below (see README).

SET batch_interval = '2s';

CREATE SOURCE records (line TEXT)
  WITH (connector = 'kinesis', stream = 'eddy-words', region = 'us-east-1',
        initial_position = 'latest');

CREATE STREAM words AS
  SELECT s.value AS word FROM records, split(records.line, ' ') AS s WHERE s.value <> '';

SELECT word, count(*) AS n FROM words GROUP BY word ORDER BY n DESC, word LIMIT 10;
