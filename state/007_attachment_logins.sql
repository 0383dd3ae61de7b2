-- Each attachment has its own login to its addon (a PostgreSQL role, a MariaDB user, a Redis ACL
-- user), so detaching one app revokes its access only. `credentials` is that login's password
-- sealed with secrets/addons.key, bound to the login's kind and name; NULL for attachments
-- recorded before, which keep reaching the addon with its own password.
ALTER TABLE attachments ADD COLUMN credentials TEXT;
