-- A renewal the user asked for (`hop3 certs renew`): the app's certificate stored before
-- requested_at is renewed by the next pass. One row per app; a new request replaces it.
CREATE TABLE cert_renewals (
  app          TEXT PRIMARY KEY REFERENCES apps(name) ON DELETE CASCADE,
  requested_at TEXT NOT NULL
);
