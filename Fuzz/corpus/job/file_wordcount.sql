-- file_wordcount.sql: Spark's HdfsWordCount (textFileStream) on a local directory.
-- Run:   eddy run sql/file_wordcount.sql
-- Then drop text files into in/ (write elsewhere, then mv into in/).
-- Files already there at start are skipped; each new file is read once.

SET batch_interval = '2s';

CREATE SOURCE docs (line TEXT)
  WITH (connector = 'file', path = 'in', format = 'lines');

CREATE STREAM words AS
  SELECT lower(s.value) AS word
  FROM docs, split(docs.line, ' ') AS s
  WHERE s.value <> '';

SELECT word, count(*) AS n FROM words GROUP BY word ORDER BY n DESC, word LIMIT 20;
