-- `hop3 scale`: the desired number of instances per process type of an app (a record, like env).
-- A type without a row runs one instance. Each release keeps the counts it was made with
-- (releases.scale), so a rollout, a retry after a crash and a rollback run what was recorded.
CREATE TABLE scale (
  app      TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE,
  process  TEXT NOT NULL,
  count    INTEGER NOT NULL CHECK (count BETWEEN 0 AND 16),
  PRIMARY KEY (app, process)
);

ALTER TABLE releases ADD COLUMN scale TEXT NOT NULL DEFAULT '{}';
