import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type Pg from 'pg';
import { pgLibrary } from '../client-libraries.js';
import { operationalError } from '../../../lib/errors.js';
import { ExecError, ExecInputError } from '../../../lib/exec.js';
import { UNKNOWN, type Unknown } from '../../../lib/unknown.js';
import { checkAddonName } from '../addon-name.js';
import { writeDump } from '../dump-file.js';
import type { InstanceLive, InstanceOps, InstanceSpec } from '../instance-provider.js';
import { addonOfLogin, checkLoginName, type LoginLive, type LoginOps } from '../login-provider.js';
import { lastLines, PASSWORD_PATTERN, PING_TIMEOUT_MS, withTimeout } from '../server-process.js';
import { dumpCompressor, listDump, openDump } from './dump-stream.js';
import type { PostgresServer } from './server.js';

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for a password (RFC 5802/7677), made here so that
 * the password itself never travels in a statement: a failed statement is logged with its text.
 */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

const ident = (pg: typeof Pg, name: string) => pg.escapeIdentifier(checkAddonName(name));

function checkPassword(spec: InstanceSpec): void {
  if (!PASSWORD_PATTERN.test(spec.password)) throw operationalError('ADDON_COMMAND_FAILED', `the credentials of ${spec.name} are not a password hop3 makes`);
}

/**
 * A PostgreSQL addon instance: a database and a login role of the addon's name, the role owning
 * the database. CONNECT is revoked from PUBLIC, and pg_hba lets a role reach only the database of
 * a role it is a member of, so one addon's credentials open no other addon's database. An app's
 * login is a role of its own that is a member of the addon's role and nothing else.
 */
export function postgresInstances(server: PostgresServer): InstanceOps & { logins: LoginOps } {
  const url = (s: InstanceSpec) => `postgres://${s.user ?? s.name}:${s.password}@127.0.0.1:${server.port}/${s.name}`;

  /** Whether the spec's credentials log in to its database over loopback, as an app would. */
  async function logsIn(s: InstanceSpec): Promise<boolean> {
    const pg = await pgLibrary();
    const c = new pg.Client({ host: '127.0.0.1', port: server.port, user: s.user ?? s.name, password: s.password, database: s.name, connectionTimeoutMillis: PING_TIMEOUT_MS });
    c.on('error', () => undefined);
    try {
      await withTimeout(c.connect(), PING_TIMEOUT_MS + 500, 'a login');
      return true;
    } catch (err) {
      // 28P01: wrong password; 28000: no such role or no pg_hba entry; 3D000: no database; 42501: no CONNECT.
      const code = (err as { code?: string }).code;
      if (code === '28P01' || code === '28000' || code === '3D000' || code === '42501') return false;
      throw err;
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  const adminEnv = () => {
    const admin = server.adminLogin();
    return { PGHOST: server.socketDir, PGPORT: String(server.port), PGUSER: admin.user, ...(admin.password === null ? {} : { PGPASSWORD: admin.password }) };
  };

  async function toolFailure<T>(argv: string[], run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      const output = err instanceof ExecInputError ? String(err.inputError) : err instanceof ExecError ? err.output : String(err);
      throw operationalError('ADDON_COMMAND_FAILED', `${argv[0]?.split('/').pop()} failed: ${lastLines(output)}`, { cause: err });
    }
  }

  const ops: InstanceOps = {
    async observe(specs) {
      if (specs.length === 0) return new Map();
      const names = specs.map((s) => checkAddonName(s.name));
      const found = await server.withAdmin(async (c) => {
        const dbs = await c.query<{ datname: string; owner: string; public_connect: boolean }>(
          `SELECT d.datname, r.rolname AS owner, has_database_privilege('public', d.oid, 'CONNECT') AS public_connect
             FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE d.datname = ANY($1)`, [names]);
        const roles = await c.query<{ rolname: string; rolcanlogin: boolean; rolsuper: boolean; rolcreatedb: boolean; rolcreaterole: boolean }>(
          'SELECT rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = ANY($1)', [names]);
        return { dbs: new Map(dbs.rows.map((r) => [r.datname, r])), roles: new Map(roles.rows.map((r) => [r.rolname, r])) };
      }).catch((): Unknown => UNKNOWN);
      if (found === UNKNOWN) return UNKNOWN;
      const out = new Map<string, InstanceLive | null>();
      for (const s of specs) {
        const db = found.dbs.get(s.name);
        const role = found.roles.get(s.name);
        if (!db && !role) {
          out.set(s.name, null);
          continue;
        }
        const parts = { database: db !== undefined, role: role !== undefined };
        const confined = role !== undefined && role.rolcanlogin && !role.rolsuper && !role.rolcreatedb && !role.rolcreaterole && db?.owner === s.name && db.public_connect === false;
        out.set(s.name, { name: s.name, parts, confined, passwordValid: parts.database && parts.role ? await logsIn(s) : false });
      }
      return out;
    },

    async ensure(spec) {
      const pg = await pgLibrary();
      const name = ident(pg, spec.name);
      checkPassword(spec);
      await server.withAdmin(async (c) => {
        const verifier = pg.escapeLiteral(scramVerifier(spec.password));
        const role = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [spec.name]);
        await c.query(`${role.rowCount === 0 ? 'CREATE' : 'ALTER'} ROLE ${name} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD ${verifier}`);
        const db = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [spec.name]);
        if (db.rowCount === 0) await c.query(`CREATE DATABASE ${name} OWNER ${name} ENCODING 'UTF8' TEMPLATE template0`);
        else await c.query(`ALTER DATABASE ${name} OWNER TO ${name}`);
        await c.query(`REVOKE ALL ON DATABASE ${name} FROM PUBLIC`);
      });
    },

    async drop(name) {
      const pg = await pgLibrary();
      const id = ident(pg, name);
      await server.withAdmin(async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${id} WITH (FORCE)`);
        await c.query(`DROP ROLE IF EXISTS ${id}`);
      });
    },

    connectionDetails(s) {
      return { DATABASE_URL: url(s), POSTGRES_DB: s.name, POSTGRES_HOST: '127.0.0.1', POSTGRES_PORT: String(server.port), POSTGRES_USER: s.user ?? s.name, POSTGRES_PASSWORD: s.password };
    },

    async dump(name, path) {
      checkAddonName(name);
      // Custom format, so pg_restore recreates it into any database; written uncompressed and
      // compressed here, off pg_dump's core (see dump-stream.ts).
      const argv = [server.bin('pg_dump'), '--format=custom', '--compress=0', '--no-password', `--dbname=${name}`];
      return writeDump(path, (tmp) => toolFailure(argv, () => server.exec.runPiped(argv,
        (stdout) => pipeline(stdout, dumpCompressor(), createWriteStream(tmp, { mode: 0o600 })), { env: adminEnv(), timeoutMs: 3_600_000 })));
    },

    async restore(spec, path) {
      const pg = await pgLibrary();
      const name = ident(pg, spec.name);
      // Read through before anything is dropped: a file that is no dump, or a compressed one cut
      // short or changed, leaves the database as it is.
      await listDump(server, path);
      await ops.ensure(spec);
      // The earlier state exactly: objects made since the dump go with the database.
      await server.withAdmin(async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await c.query(`CREATE DATABASE ${name} OWNER ${name} ENCODING 'UTF8' TEMPLATE template0`);
        await c.query(`REVOKE ALL ON DATABASE ${name} FROM PUBLIC`);
      });
      // Owned by the target's role whatever role the dump came from (a restore --to another name).
      const argv = [server.bin('pg_restore'), '--no-password', '--exit-on-error', '--no-owner', '--no-acl', `--role=${spec.name}`, `--dbname=${spec.name}`];
      await toolFailure(argv, async () => server.exec.runFed(argv, await openDump(path), { env: adminEnv(), timeoutMs: 3_600_000 }));
    },

    async size(name) {
      const r = await server.withAdmin((c) => c.query<{ size: string }>('SELECT pg_database_size($1)::text AS size', [checkAddonName(name)]));
      return Number(r.rows[0]?.size ?? 0);
    },

    // A passfile (hostname:port:database:username:password) rather than PGPASSWORD; scripts piped in stop at their first error.
    shell: (s) => ({
      program: 'psql',
      args: ['--set=ON_ERROR_STOP=1'],
      env: { PGHOST: '127.0.0.1', PGPORT: String(server.port), PGDATABASE: s.name, PGUSER: s.user ?? s.name },
      file: { content: `127.0.0.1:${server.port}:${s.name}:${s.user ?? s.name}:${s.password}\n`, env: 'PGPASSFILE' },
    }),

    adminSocket: () => server.socketPath,
  };

  const logins: LoginOps = {
    async observe(specs) {
      const users = specs.map((s) => checkLoginName(s.user));
      const found = await server.withAdmin(async (c) => {
        const rows = await c.query<{ rolname: string; rolcanlogin: boolean; rolsuper: boolean; rolcreatedb: boolean; rolcreaterole: boolean; rolreplication: boolean; rolbypassrls: boolean; rolconfig: string[] | null; member_of: string[] }>(
          `SELECT r.rolname, r.rolcanlogin, r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolreplication, r.rolbypassrls, r.rolconfig,
                  ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid ORDER BY 1)::text[] AS member_of
             FROM pg_roles r WHERE r.rolname = ANY($1)`, [users]);
        return new Map(rows.rows.map((r) => [r.rolname, r]));
      }).catch((): Unknown => UNKNOWN);
      if (found === UNKNOWN) return UNKNOWN;
      const out = new Map<string, LoginLive | null>();
      for (const s of specs) {
        const r = found.get(s.user);
        if (!r) {
          out.set(s.user, null);
          continue;
        }
        const confined = r.rolcanlogin && !r.rolsuper && !r.rolcreatedb && !r.rolcreaterole && !r.rolreplication && !r.rolbypassrls
          && JSON.stringify(r.member_of) === JSON.stringify([s.addon]) && JSON.stringify(r.rolconfig ?? []) === JSON.stringify([`role=${s.addon}`]);
        out.set(s.user, { user: s.user, confined, passwordValid: await logsIn({ name: s.addon, user: s.user, password: s.password }) });
      }
      return out;
    },

    async ensure(spec) {
      const pg = await pgLibrary();
      const user = pg.escapeIdentifier(checkLoginName(spec.user));
      const addon = ident(pg, spec.addon);
      checkPassword({ name: spec.user, password: spec.password });
      await server.ensureHba();
      await server.withAdmin(async (c) => {
        const verifier = pg.escapeLiteral(scramVerifier(spec.password));
        const role = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [spec.user]);
        await c.query(`${role.rowCount === 0 ? 'CREATE' : 'ALTER'} ROLE ${user} LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD ${verifier}`);
        // Every session runs as the addon's role: what one app creates, the others attached can use,
        // and dropping this login leaves it all with the addon.
        await c.query(`ALTER ROLE ${user} RESET ALL`);
        await c.query(`ALTER ROLE ${user} SET role = ${pg.escapeLiteral(spec.addon)}`);
        const others = await c.query<{ rolname: string }>(
          'SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1 AND g.rolname <> $2', [spec.user, spec.addon]);
        for (const o of others.rows) await c.query(`REVOKE ${pg.escapeIdentifier(o.rolname)} FROM ${user}`);
        await c.query(`GRANT ${addon} TO ${user}`);
      });
    },

    async drop(user) {
      const pg = await pgLibrary();
      const id = pg.escapeIdentifier(checkLoginName(user));
      const addon = addonOfLogin(user)!;
      const hasDb = await server.withAdmin(async (c) => {
        if ((await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user])).rowCount === 0) return null;
        // Its open sessions end with it: a detached app keeps no way in.
        await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [user]);
        return (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [addon])).rowCount !== 0;
      });
      if (hasDb === null) return;
      if (hasDb) {
        await server.withAdmin(async (c) => {
          await c.query(`REASSIGN OWNED BY ${id} TO ${ident(pg, addon)}`);
          await c.query(`DROP OWNED BY ${id}`);
        }, addon);
      }
      await server.withAdmin((c) => c.query(`DROP ROLE IF EXISTS ${id}`));
    },
  };
  return { ...ops, logins };
}
