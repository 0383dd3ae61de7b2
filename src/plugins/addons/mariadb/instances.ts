import { mysqlLibrary } from '../client-libraries.js';
import { closeSync, openSync, readSync } from 'node:fs';
import { operationalError, userError } from '../../../lib/errors.js';
import { ExecError } from '../../../lib/exec.js';
import { UNKNOWN, type Unknown } from '../../../lib/unknown.js';
import { checkAddonName } from '../addon-name.js';
import { writeDump } from '../dump-file.js';
import type { InstanceLive, InstanceOps, InstanceSpec } from '../instance-provider.js';
import { checkLoginName, type LoginLive, type LoginOps } from '../login-provider.js';
import { lastLines, PASSWORD_PATTERN, PING_TIMEOUT_MS, withTimeout } from '../server-process.js';
import { nativePasswordHash, type MariadbServer } from './server.js';

/** Apps reach MariaDB over loopback TCP only; with skip-name-resolve their host is this address. */
const APP_HOST = '127.0.0.1';

/** The grants an instance's user (or an app's login to it) has, and no more: the addon's database, nothing global. */
const expectedGrants = (name: string, user = name) => [
  `GRANT USAGE ON *.* TO \`${user}\`@\`${APP_HOST}\``,
  `GRANT ALL PRIVILEGES ON \`${name}\`.* TO \`${user}\`@\`${APP_HOST}\``,
].sort();

/** SHOW GRANTS without the password hash, which the login check looks at instead. */
const grantLines = (rows: unknown): string[] =>
  (rows as Array<Record<string, string>>).map((r) => String(Object.values(r)[0]).replace(/ IDENTIFIED BY PASSWORD '[^']*'/, '')).sort();

function readHead(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(512);
    return buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * A MariaDB addon instance: a database and a user of the addon's name, `name`@`127.0.0.1`, with
 * every privilege on that database and none elsewhere. Names are checked first; statements pass
 * them as driver parameters (`?` values, `??` identifiers) and passwords as their native hash.
 */
export function mariadbInstances(server: MariadbServer): InstanceOps & { logins: LoginOps } {
  const url = (s: InstanceSpec) => `mysql://${s.user ?? s.name}:${s.password}@${APP_HOST}:${server.port}/${s.name}`;

  async function logsIn(s: InstanceSpec): Promise<boolean> {
    try {
      const c = await withTimeout((await mysqlLibrary()).createConnection({ host: APP_HOST, port: server.port, user: s.user ?? s.name, password: s.password, database: s.name, connectTimeout: PING_TIMEOUT_MS }), PING_TIMEOUT_MS + 500, 'a login');
      await c.end().catch(() => c.destroy());
      return true;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_DBACCESS_DENIED_ERROR' || code === 'ER_BAD_DB_ERROR') return false;
      throw err;
    }
  }

  async function runTool(argv: string[]): Promise<void> {
    try {
      // The password in the environment, never in argv (which every local user can read).
      const { password } = server.adminLogin();
      await server.exec.run(argv, { env: password === null ? {} : { MYSQL_PWD: password }, timeoutMs: 3_600_000 });
    } catch (err) {
      const output = err instanceof ExecError ? err.output : String(err);
      throw operationalError('ADDON_COMMAND_FAILED', `${argv[0]?.split('/').pop()} failed: ${lastLines(output)}`, { cause: err });
    }
  }
  const toolArgs = () => ['--no-defaults', `--socket=${server.socketPath}`, `--user=${server.adminLogin().user}`];

  const ops: InstanceOps = {
    async observe(specs) {
      if (specs.length === 0) return new Map();
      const names = specs.map((s) => checkAddonName(s.name));
      const found = await server.withAdmin(async (c) => {
        const [dbs] = await c.query('SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (?)', [names]);
        const [users] = await c.query('SELECT User AS name FROM mysql.user WHERE Host = ? AND User IN (?)', [APP_HOST, names]);
        const userSet = new Set((users as Array<{ name: string }>).map((u) => u.name));
        const grants = new Map<string, string[]>();
        for (const n of userSet) grants.set(n, grantLines((await c.query('SHOW GRANTS FOR ?@?', [n, APP_HOST]))[0]));
        return { dbs: new Set((dbs as Array<{ name: string }>).map((d) => d.name)), users: userSet, grants };
      }).catch((): Unknown => UNKNOWN);
      if (found === UNKNOWN) return UNKNOWN;
      const out = new Map<string, InstanceLive | null>();
      for (const s of specs) {
        const parts = { database: found.dbs.has(s.name), user: found.users.has(s.name) };
        if (!parts.database && !parts.user) {
          out.set(s.name, null);
          continue;
        }
        const confined = JSON.stringify(found.grants.get(s.name) ?? []) === JSON.stringify(expectedGrants(s.name));
        out.set(s.name, { name: s.name, parts, confined, passwordValid: parts.database && parts.user ? await logsIn(s) : false });
      }
      return out;
    },

    async ensure(spec) {
      const name = checkAddonName(spec.name);
      if (!PASSWORD_PATTERN.test(spec.password)) throw operationalError('ADDON_COMMAND_FAILED', `the credentials of ${name} are not a password hop3 makes`);
      const hash = nativePasswordHash(spec.password);
      await server.withAdmin(async (c) => {
        await c.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY PASSWORD ?', [name, APP_HOST, hash]);
        await c.query('ALTER USER ?@? IDENTIFIED BY PASSWORD ?', [name, APP_HOST, hash]);
        await c.query('CREATE DATABASE IF NOT EXISTS ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci', [name]);
        const have = grantLines((await c.query('SHOW GRANTS FOR ?@?', [name, APP_HOST]))[0]);
        if (JSON.stringify(have) !== JSON.stringify(expectedGrants(name))) {
          await c.query('REVOKE ALL PRIVILEGES, GRANT OPTION FROM ?@?', [name, APP_HOST]);
          await c.query('GRANT ALL PRIVILEGES ON ??.* TO ?@?', [name, name, APP_HOST]);
        }
      });
    },

    async drop(name) {
      checkAddonName(name);
      await server.withAdmin(async (c) => {
        await c.query('DROP DATABASE IF EXISTS ??', [name]);
        await c.query('DROP USER IF EXISTS ?@?', [name, APP_HOST]);
      });
    },

    connectionDetails(s) {
      return { DATABASE_URL: url(s), MYSQL_DATABASE: s.name, MYSQL_HOST: APP_HOST, MYSQL_PORT: String(server.port), MYSQL_USER: s.user ?? s.name, MYSQL_PASSWORD: s.password };
    },

    async dump(name, path) {
      checkAddonName(name);
      // No CREATE DATABASE or USE in it: it restores into any database (a restore --to another name).
      return writeDump(path, (tmp) => runTool([server.bin('mariadb-dump'), ...toolArgs(), '--single-transaction', '--routines', '--triggers', '--events',
        '--skip-lock-tables', `--result-file=${tmp}`, '--', name]));
    },

    async restore(spec, path) {
      const name = checkAddonName(spec.name);
      // The client's `source` takes the rest of its line as the file name.
      if (!/^\/[A-Za-z0-9._/-]+$/.test(path)) throw operationalError('ADDON_COMMAND_FAILED', `a MariaDB dump is restored only from a plain absolute path, not ${JSON.stringify(path)}`);
      // Looked at before anything is dropped: a file that is no dump leaves the database as it is.
      const head = readHead(path);
      if (!/^(\/\*[^\n]*\n)?-- (MariaDB|MySQL) dump /.test(head)) throw userError('ADDON_BACKUP_INVALID', `${path} is not a dump mariadb-dump wrote`);
      await ops.ensure(spec);
      // The earlier state exactly: tables made since the dump go with the database (its grants stay).
      await server.withAdmin(async (c) => {
        await c.query('DROP DATABASE IF EXISTS ??', [name]);
        await c.query('CREATE DATABASE ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci', [name]);
      });
      await runTool([server.bin('mariadb'), ...toolArgs(), '--batch', `--database=${name}`, `--execute=source ${path}`]);
    },

    async size(name) {
      const [rows] = await server.withAdmin((c) => c.query('SELECT COALESCE(SUM(data_length + index_length), 0) AS size FROM information_schema.tables WHERE table_schema = ?', [checkAddonName(name)]));
      return Number((rows as Array<{ size: string | number }>)[0]?.size ?? 0);
    },

    // --defaults-extra-file must come first; TCP, not the admin socket, as an app connects.
    shell: (s) => ({
      program: 'mariadb',
      args: ['--protocol=TCP', '--', s.name],
      env: {},
      file: { content: `[client]\nhost=${APP_HOST}\nport=${server.port}\nuser=${s.user ?? s.name}\npassword=${s.password}\n`, flag: '--defaults-extra-file=' },
    }),

    adminSocket: () => server.socketPath,
  };

  /** An app's login: a user of its own, `ADDON_APP`@`127.0.0.1`, with the instance user's grants on the addon's database. */
  const logins: LoginOps = {
    async observe(specs) {
      const users = specs.map((s) => checkLoginName(s.user));
      const found = await server.withAdmin(async (c) => {
        const [rows] = await c.query('SELECT User AS name FROM mysql.user WHERE Host = ? AND User IN (?)', [APP_HOST, users]);
        const grants = new Map<string, string[]>();
        for (const r of rows as Array<{ name: string }>) grants.set(r.name, grantLines((await c.query('SHOW GRANTS FOR ?@?', [r.name, APP_HOST]))[0]));
        return grants;
      }).catch((): Unknown => UNKNOWN);
      if (found === UNKNOWN) return UNKNOWN;
      const out = new Map<string, LoginLive | null>();
      for (const s of specs) {
        const grants = found.get(s.user);
        if (grants === undefined) {
          out.set(s.user, null);
          continue;
        }
        const confined = JSON.stringify(grants) === JSON.stringify(expectedGrants(s.addon, s.user));
        out.set(s.user, { user: s.user, confined, passwordValid: await logsIn({ name: s.addon, user: s.user, password: s.password }) });
      }
      return out;
    },

    async ensure(spec) {
      const user = checkLoginName(spec.user);
      const name = checkAddonName(spec.addon);
      if (!PASSWORD_PATTERN.test(spec.password)) throw operationalError('ADDON_COMMAND_FAILED', `the credentials of ${user} are not a password hop3 makes`);
      const hash = nativePasswordHash(spec.password);
      await server.withAdmin(async (c) => {
        await c.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY PASSWORD ?', [user, APP_HOST, hash]);
        await c.query('ALTER USER ?@? IDENTIFIED BY PASSWORD ?', [user, APP_HOST, hash]);
        const have = grantLines((await c.query('SHOW GRANTS FOR ?@?', [user, APP_HOST]))[0]);
        if (JSON.stringify(have) !== JSON.stringify(expectedGrants(name, user))) {
          await c.query('REVOKE ALL PRIVILEGES, GRANT OPTION FROM ?@?', [user, APP_HOST]);
          await c.query('GRANT ALL PRIVILEGES ON ??.* TO ?@?', [name, user, APP_HOST]);
        }
      });
    },

    async drop(user) {
      checkLoginName(user);
      await server.withAdmin(async (c) => {
        await c.query('DROP USER IF EXISTS ?@?', [user, APP_HOST]);
        // Dropping a user ends none of its sessions: a detached app keeps no way in.
        const [sessions] = await c.query('SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ?', [user]);
        for (const s of sessions as Array<{ id: number }>) await c.query('KILL CONNECTION ?', [Number(s.id)]).catch(() => undefined);
      });
    },
  };
  return { ...ops, logins };
}
