import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { operationalError, userError } from '../../../lib/errors.js';
import { UNKNOWN, type Unknown } from '../../../lib/unknown.js';
import { checkAddonName } from '../addon-name.js';
import { writeDump } from '../dump-file.js';
import type { InstanceLive, InstanceOps } from '../instance-provider.js';
import { checkLoginName, type LoginLive, type LoginOps } from '../login-provider.js';
import { PASSWORD_PATTERN } from '../server-process.js';
import { redisLibrary } from '../client-libraries.js';
import { sha256Hex, type RedisAdmin, type RedisServer } from './server.js';

/**
 * What an instance's ACL user may do, after `~NAME:*` (keys) and `&NAME:*` (channels): read and
 * write its own keys, transactions, scripts, pub/sub on its channels — and nothing that reaches
 * past its prefix or the server: no @dangerous or @admin command (FLUSHALL, CONFIG, KEYS,
 * MONITOR, DEBUG...), no SCAN, RANDOMKEY or DBSIZE (they see every key), no PUBSUB (it lists every
 * channel), no SELECT, MOVE or SWAPDB (an instance is its prefix in database 0, which its backup
 * covers), no FUNCTION (functions are server-wide), no SCRIPT KILL or FLUSH (they touch others').
 */
export const REDIS_USER_RULES = ['-@all', '+@read', '+@write', '+@keyspace', '+@transaction', '+@pubsub', '+@connection', '+@scripting',
  '-@dangerous', '-@admin', '-scan', '-keys', '-randomkey', '-dbsize', '-pubsub', '-select', '-move', '-swapdb', '-function', '-script|kill', '-script|flush'] as const;

/** Not an addon name (addon names have no `_`): the user that shows how Redis writes the rules. */
const PROBE_USER = '_hop3_rules_probe';

/** Replies as bytes (keys and DUMP payloads are binary). */
const buffers = async () => {
  const { RESP_TYPES } = await redisLibrary();
  return { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer, [RESP_TYPES.SIMPLE_STRING]: Buffer } } as const;
};

/** Backup file: this line, then per key: u32 length, key (without the prefix), i64 ms to live (-1: none), u32 length, DUMP payload. */
export const REDIS_BACKUP_MAGIC = Buffer.from('HOP3-REDIS-KEYS 1\n');

type AclUser = Record<string, unknown>;

/** Redis lists a user's command rules in no fixed order (it differs after a restart): compared as a set. */
const commandSet = (commands: unknown) => String(commands).split(' ').filter(Boolean).sort().join(' ');

function aclUser(reply: unknown): AclUser | null {
  if (reply === null || reply === undefined) return null;
  if (Array.isArray(reply)) {
    const out: AclUser = {};
    for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = reply[i + 1];
    return out;
  }
  if (reply instanceof Map) return Object.fromEntries([...reply.entries()].map(([k, v]) => [String(k), v]));
  return reply as AclUser;
}

/**
 * A Redis addon instance: an ACL user of the addon's name whose keys and channels are those
 * starting with `NAME:` (REDIS_KEY_PREFIX: the app puts it in front of its keys). Every argument
 * is a separate protocol argument, so no name or password can add a rule.
 */
export function redisInstances(server: RedisServer): InstanceOps & { logins: LoginOps } {
  /** The rules of a user whose keys and channels are those of instance `name`. */
  const rulesOf = (name: string, password: string) => ['reset', 'on', `#${sha256Hex(password)}`, `~${name}:*`, 'resetchannels', `&${name}:*`, ...REDIS_USER_RULES];
  const isConfined = (u: AclUser, name: string, want: string) => {
    const flags = (u.flags as unknown[]).map(String);
    const selectors = (u.selectors as unknown[] | undefined) ?? [];
    return String(u.keys) === `~${name}:*` && String(u.channels) === `&${name}:*` && commandSet(u.commands) === want && selectors.length === 0 && !flags.includes('nopass');
  };
  const passwordValid = (u: AclUser, password: string) => {
    const passwords = (u.passwords as unknown[]).map(String);
    return (u.flags as unknown[]).map(String).includes('on') && passwords.length === 1 && passwords[0] === sha256Hex(password);
  };
  /** What is seen of an ACL user that should reach instance `addon`'s keys with `password`. */
  const seenUser = (u: AclUser, addon: string, password: string, want: string) => ({ confined: isConfined(u, addon, want), passwordValid: passwordValid(u, password) });
  /** Make `user` reach instance `addon`'s keys (and nothing else) with `password`, and keep it across a restart. */
  async function setUser(user: string, addon: string, password: string): Promise<void> {
    if (!PASSWORD_PATTERN.test(password)) throw operationalError('ADDON_COMMAND_FAILED', `the credentials of ${user} are not a password hop3 makes`);
    await server.withAdmin(async (c) => {
      await c.sendCommand(['ACL', 'SETUSER', user, ...rulesOf(addon, password)]);
      await saveAcl(c);
    });
  }
  /** Remove an ACL user (Redis disconnects its clients itself), after `before` on the same connection. */
  async function deleteUser(user: string, before?: (c: RedisAdmin) => Promise<void>): Promise<void> {
    await server.withAdmin(async (c) => {
      await before?.(c);
      await c.sendCommand(['ACL', 'DELUSER', user]);
      await saveAcl(c);
    });
  }
  async function getUsers(c: RedisAdmin, users: string[]): Promise<{ want: string; users: Map<string, AclUser | null> }> {
    const want = await canonicalCommands(c);
    const out = new Map<string, AclUser | null>();
    for (const u of users) out.set(u, aclUser(await c.sendCommand(['ACL', 'GETUSER', u])));
    return { want, users: out };
  }
  /** Per server process: a Redis restarted (upgraded) may put other commands in a category. */
  let canonical: { pid: number | null; commands: Promise<string> } | null = null;

  /**
   * The commands field Redis reports for REDIS_USER_RULES (it writes rules its own way). One probe
   * per server process, shared by concurrent observers: two probes at once would delete the user
   * the other is reading.
   */
  function canonicalCommands(c: RedisAdmin): Promise<string> {
    const pid = server.pid();
    if (canonical !== null && canonical.pid === pid) return canonical.commands;
    const mine = { pid, commands: probeCommands(c) };
    canonical = mine;
    // A failed probe is not remembered: the next observer asks again.
    mine.commands.catch(() => {
      if (canonical === mine) canonical = null;
    });
    return mine.commands;
  }

  async function probeCommands(c: RedisAdmin): Promise<string> {
    await c.sendCommand(['ACL', 'SETUSER', PROBE_USER, 'reset', ...REDIS_USER_RULES]);
    try {
      const probe = aclUser(await c.sendCommand(['ACL', 'GETUSER', PROBE_USER]));
      if (probe === null) throw operationalError('ADDON_COMMAND_FAILED', `the Redis user ${PROBE_USER} was gone before it could be read`);
      return commandSet(probe.commands);
    } finally {
      await c.sendCommand(['ACL', 'DELUSER', PROBE_USER]);
    }
  }

  /**
   * Users survive a restart of hop3's Redis in its ACL file. The machine's may have none (Debian's
   * has no `aclfile`): its users are then lost with a restart and made again by the next pass (they
   * are in the records); the keys are the server's own persistence's.
   */
  async function saveAcl(c: RedisAdmin): Promise<void> {
    try {
      await c.sendCommand(['ACL', 'SAVE']);
    } catch (err) {
      if (server.system === null || !/not configured to use an ACL file/i.test((err as Error).message)) throw err;
    }
  }

  async function unlinkPrefix(c: RedisAdmin, name: string): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = (await c.sendCommand(['SCAN', cursor, 'MATCH', `${name}:*`, 'COUNT', '1000'], await buffers())) as [Buffer, Buffer[]];
      cursor = next.toString();
      if (keys.length > 0) await c.sendCommand(['UNLINK', ...keys]);
    } while (cursor !== '0');
  }

  const ops: InstanceOps = {
    async observe(specs) {
      if (specs.length === 0) return new Map();
      for (const s of specs) checkAddonName(s.name);
      const found = await server.withAdmin((c) => getUsers(c, specs.map((s) => s.name))).catch((): Unknown => UNKNOWN);
      if (found === UNKNOWN) return UNKNOWN;
      const out = new Map<string, InstanceLive | null>();
      for (const s of specs) {
        const u = found.users.get(s.name);
        if (!u) {
          out.set(s.name, null);
          continue;
        }
        out.set(s.name, { name: s.name, parts: { user: true }, ...seenUser(u, s.name, s.password, found.want) });
      }
      return out;
    },

    async ensure(spec) {
      await setUser(checkAddonName(spec.name), spec.name, spec.password);
    },

    async drop(name) {
      await deleteUser(checkAddonName(name), (c) => unlinkPrefix(c, name));
    },

    connectionDetails(s) {
      return { REDIS_URL: `redis://${s.user ?? s.name}:${s.password}@127.0.0.1:${server.port}/0`, REDIS_KEY_PREFIX: `${s.name}:` };
    },

    /**
     * RDB is the whole server's, so an instance's backup is its keys: each key under its prefix
     * as DUMP gives it (Redis's own serialisation, with its time to live), prefix removed, so it
     * restores under any instance's prefix. Restore needs a Redis of the same RDB version or newer.
     */
    async dump(name, path) {
      checkAddonName(name);
      return writeDump(path, (tmp) => server.withAdmin(async (c) => {
        const bytes = await buffers();
        const fd = openSync(tmp, 'w', 0o600);
        try {
          writeSync(fd, REDIS_BACKUP_MAGIC);
          let cursor = '0';
          do {
            const [next, keys] = (await c.sendCommand(['SCAN', cursor, 'MATCH', `${name}:*`, 'COUNT', '1000'], bytes)) as [Buffer, Buffer[]];
            cursor = next.toString();
            const entries = await Promise.all(keys.map(async (k) => ({
              key: k, payload: (await c.sendCommand(['DUMP', k], bytes)) as Buffer | null, ttl: Number(await c.sendCommand(['PTTL', k])),
            })));
            for (const e of entries) {
              if (e.payload === null) continue; // expired or removed between SCAN and DUMP
              const suffix = e.key.subarray(name.length + 1);
              const head = Buffer.alloc(4);
              head.writeUInt32BE(suffix.length);
              const mid = Buffer.alloc(12);
              mid.writeBigInt64BE(BigInt(e.ttl), 0);
              mid.writeUInt32BE(e.payload.length, 8);
              writeSync(fd, Buffer.concat([head, suffix, mid, e.payload]));
            }
          } while (cursor !== '0');
        } finally {
          closeSync(fd);
        }
      }));
    },

    async restore(spec, path) {
      checkAddonName(spec.name);
      const data = readFileSync(path);
      if (!data.subarray(0, REDIS_BACKUP_MAGIC.length).equals(REDIS_BACKUP_MAGIC)) throw userError('ADDON_BACKUP_INVALID', `${path} is not a Redis addon backup hop3 made`);
      const records: Array<{ suffix: Buffer; ttl: number; payload: Buffer }> = [];
      for (let at = REDIS_BACKUP_MAGIC.length; at < data.length;) {
        if (at + 4 > data.length) throw userError('ADDON_BACKUP_INVALID', `${path} is cut short`);
        const klen = data.readUInt32BE(at);
        const suffix = data.subarray(at + 4, at + 4 + klen);
        at += 4 + klen;
        if (at + 12 > data.length) throw userError('ADDON_BACKUP_INVALID', `${path} is cut short`);
        const ttl = Number(data.readBigInt64BE(at));
        const plen = data.readUInt32BE(at + 8);
        const payload = data.subarray(at + 12, at + 12 + plen);
        if (payload.length !== plen || suffix.length !== klen) throw userError('ADDON_BACKUP_INVALID', `${path} is cut short`);
        at += 12 + plen;
        records.push({ suffix, ttl, payload });
      }
      await ops.ensure(spec);
      await server.withAdmin(async (c) => {
        // The earlier state exactly: keys written since the backup go.
        await unlinkPrefix(c, spec.name);
        const prefix = Buffer.from(`${spec.name}:`);
        for (let i = 0; i < records.length; i += 500) {
          await Promise.all(records.slice(i, i + 500).map((r) => c.sendCommand(['RESTORE', Buffer.concat([prefix, r.suffix]), String(r.ttl > 0 ? r.ttl : 0), r.payload, 'REPLACE'])));
        }
      });
    },

    // redis-cli reads REDISCLI_AUTH for the password (given with -a it would be in argv).
    shell: (s) => ({
      program: 'redis-cli',
      args: ['-h', '127.0.0.1', '-p', String(server.port), '--user', s.user ?? s.name],
      env: { REDISCLI_AUTH: s.password },
      file: null,
    }),

    adminSocket: () => server.socketPath,
  };

  /** An app's login: an ACL user of its own with the instance user's rules (the addon's prefix). */
  const logins: LoginOps = {
    async observe(specs) {
      const found = await server.withAdmin((c) => getUsers(c, specs.map((s) => checkLoginName(s.user)))).catch((): Unknown => UNKNOWN);
      if (found === UNKNOWN) return UNKNOWN;
      const out = new Map<string, LoginLive | null>();
      for (const s of specs) {
        const u = found.users.get(s.user);
        out.set(s.user, u ? { user: s.user, ...seenUser(u, s.addon, s.password, found.want) } : null);
      }
      return out;
    },

    async ensure(spec) {
      await setUser(checkLoginName(spec.user), checkAddonName(spec.addon), spec.password);
    },

    async drop(user) {
      await deleteUser(checkLoginName(user));
    },
  };
  return { ...ops, logins };
}
