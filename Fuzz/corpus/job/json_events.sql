-- json_events.sql: per-batch statistics over JSON events, one object per line.
-- Try it:  eddy run sql/json_events.sql < samples/events.jsonl
-- (stdin ends with the file, so the job ends after the last batch.)

CREATE SOURCE events (ts INTEGER, device TEXT, kind TEXT, value REAL, tags TEXT)
  WITH (connector = 'stdin', format = 'jsonl');

-- Declared columns come from the JSON fields; nested values arrive as JSON text.
SELECT device, kind, count(*) AS n, round(avg(value), 2) AS avg_value, max(value) AS max_value
  FROM events
  GROUP BY device, kind
  ORDER BY device, kind;

-- The whole record is in _raw, for fields that were not declared.
SELECT json_extract(_raw, '$.site') AS site, count(*) AS n,
       json_group_array(DISTINCT device) AS devices
  FROM events
  GROUP BY site
  ORDER BY site;
