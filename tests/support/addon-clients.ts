import mysql from 'mysql2/promise';
import pg from 'pg';
import { createClient } from 'redis';

/**
 * What an app does with its addon's URL, for the addon tests: write one value, read all it wrote.
 * `tags`: the SQL apps also make a second table (a restore that loses one shows in its inventory).
 */
export interface AppClient {
  write(url: string, value: string): Promise<void>;
  read(url: string): Promise<string[]>;
}

export const pgApp = (tags = false): AppClient => ({
  async write(url, value) {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query('CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, body text NOT NULL)');
      if (tags) await c.query('CREATE TABLE IF NOT EXISTS tags (name text PRIMARY KEY)');
      await c.query('INSERT INTO notes (body) VALUES ($1)', [value]);
    } finally {
      await c.end();
    }
  },
  async read(url) {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query<{ body: string }>('SELECT body FROM notes ORDER BY id')).rows.map((r) => r.body);
    } finally {
      await c.end();
    }
  },
});

export const mariadbApp = (tags = false): AppClient => ({
  async write(url, value) {
    const c = await mysql.createConnection(url);
    try {
      await c.query('CREATE TABLE IF NOT EXISTS notes (id INT AUTO_INCREMENT PRIMARY KEY, body TEXT NOT NULL)');
      if (tags) await c.query('CREATE TABLE IF NOT EXISTS tags (name VARCHAR(40) PRIMARY KEY)');
      await c.query('INSERT INTO notes (body) VALUES (?)', [value]);
    } finally {
      await c.end();
    }
  },
  async read(url) {
    const c = await mysql.createConnection(url);
    try {
      const [rows] = await c.query('SELECT body FROM notes ORDER BY id');
      return (rows as Array<{ body: string }>).map((r) => r.body);
    } finally {
      await c.end();
    }
  },
});

/** The addon a URL reaches, from the user it logs in as (the addon's own, or an app's login `ADDON_APP`). */
const addonOf = (url: string) => decodeURIComponent(new URL(url).username).split('_')[0]!;

/** A Redis app keeps its keys under the prefix it was given (REDIS_KEY_PREFIX: its addon's name and `:`). */
export const redisApp: AppClient = {
  async write(url, value) {
    const prefix = `${addonOf(url)}:`;
    const c = createClient({ url, socket: { reconnectStrategy: false } });
    c.on('error', () => undefined);
    await c.connect();
    try {
      const n = await c.incr(`${prefix}counter`);
      await c.set(`${prefix}note:${String(n).padStart(4, '0')}`, value);
    } finally {
      c.destroy();
    }
  },
  async read(url) {
    const prefix = `${addonOf(url)}:`;
    const c = createClient({ url, socket: { reconnectStrategy: false } });
    c.on('error', () => undefined);
    await c.connect();
    try {
      const n = Number((await c.get(`${prefix}counter`)) ?? 0);
      const out: string[] = [];
      for (let i = 1; i <= n; i++) {
        const v = await c.get(`${prefix}note:${String(i).padStart(4, '0')}`);
        if (v !== null) out.push(v);
      }
      return out;
    } finally {
      c.destroy();
    }
  },
};

/** Writes `value` through a SQL URL and reads back every value written there. */
export async function pgRoundTrip(url: string, value: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('CREATE TABLE IF NOT EXISTS t (v text)');
    await c.query('INSERT INTO t VALUES ($1)', [value]);
    return (await c.query<{ v: string }>('SELECT v FROM t ORDER BY v')).rows.map((r) => r.v);
  } finally {
    await c.end();
  }
}

export async function mysqlRoundTrip(url: string, value: string): Promise<string[]> {
  const c = await mysql.createConnection(url);
  try {
    await c.query('CREATE TABLE IF NOT EXISTS t (v TEXT)');
    await c.query('INSERT INTO t VALUES (?)', [value]);
    const [rows] = await c.query('SELECT v FROM t ORDER BY v');
    return (rows as { v: string }[]).map((r) => r.v);
  } finally {
    await c.end();
  }
}

/** Sets the key `<prefix>k` through a Redis URL and reads it back. */
export async function redisRoundTrip(url: string, prefix: string, value: string): Promise<string | null> {
  const c = createClient({ url, socket: { reconnectStrategy: false, connectTimeout: 2000 } });
  c.on('error', () => undefined);
  await c.connect();
  try {
    await c.set(`${prefix}k`, value);
    return await c.get(`${prefix}k`);
  } finally {
    c.destroy();
  }
}

/** The password of a URL's user info. */
export const passwordOf = (url: string) => decodeURIComponent(new URL(url).password);
