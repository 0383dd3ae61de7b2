-- Desired state and history. The daemon is the only writer.
CREATE TABLE apps (
  name                TEXT PRIMARY KEY,
  generation          INTEGER NOT NULL DEFAULT 1,
  observed_generation INTEGER NOT NULL DEFAULT 0,
  desired_state       TEXT NOT NULL DEFAULT 'running' CHECK (desired_state IN ('running', 'stopped', 'paused')),
  desired_release     INTEGER,           -- the release the user asked for
  current_release     INTEGER,           -- the release that is serving (set by the controller)
  restart_count       INTEGER NOT NULL DEFAULT 0,
  heal_policy         TEXT NOT NULL DEFAULT 'heal' CHECK (heal_policy IN ('heal', 'report')),
  owner               TEXT NOT NULL DEFAULT 'admin',
  lifecycle           TEXT,              -- persisted xstate snapshot (JSON)
  sync                TEXT NOT NULL DEFAULT 'OutOfSync',
  health              TEXT NOT NULL DEFAULT 'Missing',
  message             TEXT NOT NULL DEFAULT '',
  created_at          TEXT NOT NULL,
  updated_at          TEXT NOT NULL
);

CREATE TABLE releases (
  app         TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE,
  version     INTEGER NOT NULL,
  source      TEXT NOT NULL CHECK (source IN ('push', 'rpc', 'gitops', 'rollback', 'config')),
  commit_sha  TEXT,
  spec        TEXT NOT NULL,             -- AppSpec snapshot (JSON)
  env         TEXT NOT NULL,             -- env snapshot (JSON)
  artifact    TEXT,                      -- BuildArtifact (JSON) once built
  ports       TEXT NOT NULL DEFAULT '{}',-- process name -> loopback port
  status      TEXT NOT NULL CHECK (status IN ('pending', 'built', 'live', 'retired', 'failed')),
  message     TEXT NOT NULL DEFAULT '',
  created_at  TEXT NOT NULL,
  PRIMARY KEY (app, version)
);

CREATE TABLE env (
  app   TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE,
  key   TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (app, key)
);

CREATE TABLE events (
  id    INTEGER PRIMARY KEY AUTOINCREMENT,
  app   TEXT,
  at    TEXT NOT NULL,
  kind  TEXT NOT NULL,
  data  TEXT NOT NULL
);
CREATE INDEX events_app ON events(app, id);

CREATE TABLE drift (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  app         TEXT NOT NULL,
  resource    TEXT NOT NULL,
  kind        TEXT NOT NULL CHECK (kind IN ('missing', 'changed', 'unexpected', 'unknown')),
  desired     TEXT NOT NULL,
  observed    TEXT NOT NULL,
  detected_at TEXT NOT NULL,
  action      TEXT NOT NULL CHECK (action IN ('healed', 'reported'))
);
CREATE INDEX drift_app ON drift(app, id);
