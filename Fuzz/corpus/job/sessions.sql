-- sessions.sql: user sessions from a click stream. A session ends when its user
-- has not been seen for 30 seconds: it is printed, with its length and page
-- count, and dropped from the state (updateStateByKey with a timeout).
-- Producer:  clicks as csv lines "user,page" pushed to port 7100
-- Try it:    eddy run sql/sessions.sql --replay samples/replay/sessions

SET batch_interval = '10s';

CREATE SOURCE clicks (user TEXT, page TEXT)
  WITH (connector = 'listen', address = '0.0.0.0:7100', format = 'csv');

CREATE STATE TABLE sessions (
  user TEXT PRIMARY KEY,
  started INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  pages INTEGER NOT NULL
);

-- Start or extend each user's session with this batch's clicks.
INSERT INTO sessions
  SELECT user, batch_time(), batch_time(), count(*) FROM clicks WHERE true GROUP BY user
  ON CONFLICT(user) DO UPDATE SET last_seen = excluded.last_seen, pages = pages + excluded.pages;

-- Time out sessions idle for 30 s: emit them and drop them.
DELETE FROM sessions WHERE last_seen <= batch_time() - 30000
  RETURNING user, pages, (last_seen - started) / 1000 AS seconds, 'ended' AS state;
