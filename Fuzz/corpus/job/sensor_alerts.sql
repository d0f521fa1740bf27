-- sensor_alerts.sql: devices push JSON readings; alert when a device's average
-- temperature over the last 20 seconds passes 30 °C, checked every 10 seconds.
-- Devices:   connect to port 7000 and send one JSON object per line, e.g.
--            {"device":"t-01","kind":"temp","value":31.5,"site":"north"}
-- Try it:    eddy run sql/sensor_alerts.sql --replay samples/replay/sensor_alerts

SET batch_interval = '5s';

CREATE SOURCE readings (device TEXT, kind TEXT, value REAL, site TEXT)
  WITH (connector = 'listen', address = '0.0.0.0:7000', format = 'jsonl');

CREATE STREAM temps AS
  SELECT device, site, value FROM readings WHERE kind = 'temp' AND value IS NOT NULL;

CREATE WINDOW last_20s ON temps RANGE '20s' SLIDE '10s';

-- Devices whose 20 s average is too hot, with the window they were measured in.
SELECT window_end() AS at_ms, device, site,
       round(avg(value), 2) AS avg_temp, count(*) AS readings, max(value) AS peak
  FROM last_20s
  GROUP BY device, site
  HAVING avg(value) > 30
  ORDER BY avg_temp DESC, device;
