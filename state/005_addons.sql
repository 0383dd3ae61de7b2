-- Addons: an instance on one of hop3's addon servers (a database and its role or user, a Redis
-- ACL user), apart from any app. `credentials` is its password sealed with secrets/addons.key
-- (AES-256-GCM, bound to the instance's kind and name): never plain text in this file.
CREATE TABLE addons (
  name        TEXT PRIMARY KEY,
  type        TEXT NOT NULL,
  credentials TEXT NOT NULL,
  created_at  TEXT NOT NULL
);

-- An app attached to an addon gets its connection URL in `env` (DATABASE_URL, REDIS_URL or
-- the name given with --as). The URL is made from the sealed credentials when the app's
-- processes are configured; it is not stored in releases or env.
CREATE TABLE attachments (
  addon       TEXT NOT NULL REFERENCES addons(name),
  app         TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE,
  env         TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  PRIMARY KEY (addon, app),
  UNIQUE (app, env)
);
