-- The client's id for the call that recorded a release: a repeat of that call (the client lost
-- the daemon in a restart and sent it again) is answered with this release, not a new one.
ALTER TABLE releases ADD COLUMN request_id TEXT;
CREATE UNIQUE INDEX releases_request_id ON releases (app, request_id) WHERE request_id IS NOT NULL;
-- The branch a push deployed (refs/heads/...): whether the push landed is read from that ref.
ALTER TABLE releases ADD COLUMN ref TEXT;
