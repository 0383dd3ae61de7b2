-- A detached app's login is not dropped by the detach: its attachment becomes a tombstone here
-- (the login absent is what is desired), and the app's passes drop it once they can see it, in
-- the prune phase of the release without the variable. The row goes once a pass has observed the
-- login gone; a server that does not answer keeps it for a later pass. No reference to apps: a
-- destroyed app's logins are still dropped after its record is gone. `credentials` is the
-- attachment's sealed password, moved here (an observation asks whether it still logs in).
CREATE TABLE login_tombstones (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  addon       TEXT NOT NULL REFERENCES addons(name),
  app         TEXT NOT NULL,
  credentials TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  UNIQUE (addon, app)
);
