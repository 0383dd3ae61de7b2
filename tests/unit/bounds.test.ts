import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asHop3Error, systemError } from '../../src/lib/errors.js';
import { httpGet } from '../../src/lib/http-get.js';
import { MAX_LINE, createExec } from '../../src/lib/exec.js';

const { run } = createExec();
import { execa } from 'execa';
import { pathToFileURL } from 'node:url';
import { Lifecycles } from '../../src/lifecycle/lifecycles.js';
import {
  bodyLimitFor, bodyTooLargeMessage, jsonDepthExceeds, RPC_BODY_LIMIT, UPLOAD_BODY_LIMIT, uploadMismatch,
} from '../../src/server/rpc-limits.js';
import { Store } from '../../src/store/store.js';

describe('JSON depth check', () => {
  const nested = (n: number) => '['.repeat(n) + ']'.repeat(n);
  it('counts arrays and objects, not brackets inside strings', () => {
    expect(jsonDepthExceeds(nested(16), 16)).toBe(false);
    expect(jsonDepthExceeds(nested(17), 16)).toBe(true);
    expect(jsonDepthExceeds('{"a":{"b":[1,{"c":2}]}}', 3)).toBe(true);
    expect(jsonDepthExceeds('{"a":{"b":[1,{"c":2}]}}', 4)).toBe(false);
    expect(jsonDepthExceeds(`{"s":"${'['.repeat(100)}"}`, 1)).toBe(false);
    expect(jsonDepthExceeds(`{"s":"\\"${'{'.repeat(100)}"}`, 1)).toBe(false);
  });
  it('scans a million levels without recursion', () => {
    expect(jsonDepthExceeds(nested(1_000_000), 16)).toBe(true);
  });
});

describe('body limit per method', () => {
  it('allows the large limit only to a request that names apps.deploy up front', () => {
    expect(bodyLimitFor('apps.deploy')).toEqual({ limit: UPLOAD_BODY_LIMIT, upload: true });
    for (const h of [undefined, 'config.set', 'APPS.DEPLOY', ['apps.deploy', 'apps.deploy']]) {
      expect(bodyLimitFor(h)).toEqual({ limit: RPC_BODY_LIMIT, upload: false });
    }
    expect(RPC_BODY_LIMIT).toBe(1024 * 1024);
  });
  it('names the limit in the refusal', () => {
    expect(bodyTooLargeMessage('config.set')).toMatch(/^request body over 1 MiB, the limit for JSON-RPC requests other than apps\.deploy/);
    expect(bodyTooLargeMessage('apps.deploy')).toBe('request body over 64 MiB, the limit for apps.deploy');
  });
  it('refuses an upload header on a body that calls something else or batches', () => {
    expect(uploadMismatch(true, { jsonrpc: '2.0', method: 'apps.deploy' })).toBeNull();
    expect(uploadMismatch(false, [{ method: 'config.set' }])).toBeNull();
    expect(uploadMismatch(true, { method: 'config.set' })).toMatch(/says apps\.deploy, but the body calls config\.set/);
    expect(uploadMismatch(true, [{ method: 'apps.deploy' }])).toMatch(/is a batch/);
  });
});

describe('system errors are operational, with a code and a hint', () => {
  const err = (code: string, message = code) => Object.assign(new Error(message), { code });
  it.each([
    ['SQLITE_BUSY', 'DB_BUSY'], ['SQLITE_BUSY_SNAPSHOT', 'DB_BUSY'], ['SQLITE_LOCKED', 'DB_BUSY'],
    ['SQLITE_FULL', 'DISK_FULL'], ['ENOSPC', 'DISK_FULL'], ['EDQUOT', 'DISK_FULL'],
    ['SQLITE_IOERR_WRITE', 'IO_ERROR'], ['EIO', 'IO_ERROR'],
  ])('%s → %s', (code, expected) => {
    const e = asHop3Error(err(code));
    expect(e).toMatchObject({ code: expected, category: 'operational', hint: expect.stringMatching(/\w/) });
  });
  it('says the database is busy in plain words', () => {
    expect(systemError(err('SQLITE_BUSY', 'database is locked'))?.message).toBe('the database is busy; try again');
  });
  it('leaves other errors alone', () => {
    expect(systemError(err('ENOENT'))).toBeNull();
    expect(systemError(new Error('x'))).toBeNull();
    expect(asHop3Error(new Error('x')).category).toBe('internal');
  });
});

describe('httpGet bounds', () => {
  let server: Server;
  let base = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      if (req.url === '/zeros') {
        const chunk = Buffer.alloc(64 * 1024);
        const pump = () => { while (res.write(chunk)); };
        res.on('drain', pump);
        pump();
      } else if (req.url === '/drip') {
        const t = setInterval(() => res.write('x'), 200);
        res.on('close', () => clearInterval(t));
      } else res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('reads a small answer', async () => {
    expect(await httpGet(`${base}/`, 'x', 2000)).toEqual({ status: 200, body: 'ok' });
  });
  it('stops reading an endless body at the limit', async () => {
    await expect(httpGet(`${base}/zeros`, 'x', 5000, { maxBytes: 64 * 1024 })).rejects.toThrow(/body over 65536 bytes/);
  });
  it('holds a dripping answer to one total deadline', async () => {
    const start = Date.now();
    await expect(httpGet(`${base}/drip`, 'x', 700)).rejects.toThrow(/no complete answer within 700 ms/);
    expect(Date.now() - start).toBeLessThan(1200);
  });
  it('with statusOnly, answers at the headers of an endless or dripping body', async () => {
    const start = Date.now();
    expect(await httpGet(`${base}/zeros`, 'x', 5000, { statusOnly: true })).toEqual({ status: 200, body: '' });
    expect(await httpGet(`${base}/drip`, 'x', 5000, { statusOnly: true })).toEqual({ status: 200, body: '' });
    expect(Date.now() - start).toBeLessThan(1000);
  });
  it('ends at once when its signal aborts', async () => {
    const abort = new AbortController();
    const start = Date.now();
    setTimeout(() => abort.abort(), 200);
    await expect(httpGet(`${base}/drip`, 'x', 60_000, { signal: abort.signal })).rejects.toThrow(/cancelled/);
    expect(Date.now() - start).toBeLessThan(700);
  });
});

describe('the store under another process\'s lock', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hop3-store-'));
  const path = join(dir, 'hop3.db');
  const store = new Store(path);
  store.createApp('a');
  const other = new Database(path);
  afterAll(() => {
    other.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails an edit with DB_BUSY within about a second, changing nothing, and still reads', async () => {
    other.exec('BEGIN EXCLUSIVE');
    try {
      const start = Date.now();
      await expect(store.writeRetrying(() => store.editEnv('a', { K: 'v' }, []))).rejects.toMatchObject({ code: 'DB_BUSY', category: 'operational' });
      const elapsed = Date.now() - start;
      expect(elapsed).toBeGreaterThanOrEqual(700);
      expect(elapsed).toBeLessThan(1500);
      expect(store.getApp('a')?.name).toBe('a');
    } finally {
      other.exec('ROLLBACK');
    }
    expect(store.getEnv('a')).toEqual({});
  });

  it('lands an edit once the lock is released within the retry window', async () => {
    other.exec('BEGIN EXCLUSIVE');
    setTimeout(() => other.exec('ROLLBACK'), 300);
    await store.writeRetrying(() => store.editEnv('a', { K: 'v' }, []));
    expect(store.getEnv('a')).toEqual({ K: 'v' });
  });

  it('rolls back every write of a transaction that fails', () => {
    expect(() => store.transaction(() => {
      store.editEnv('a', { K: 'changed' }, []);
      throw new Error('boom');
    })).toThrow('boom');
    expect(store.getEnv('a')).toEqual({ K: 'v' });
  });

  it('keeps a lifecycle snapshot it could not save and writes it once the lock is gone', async () => {
    const errors: string[] = [];
    const lifecycles = new Lifecycles(store, (_app, err) => errors.push(asHop3Error(err).code));
    expect(lifecycles.state('a')).toBe('stopped');
    other.exec('BEGIN EXCLUSIVE');
    try {
      expect(() => lifecycles.send('a', { type: 'DEPLOY' })).not.toThrow();
      expect(lifecycles.state('a')).toMatch(/^deploying/);
      expect(errors).toContain('DB_BUSY');
    } finally {
      other.exec('ROLLBACK');
    }
    await new Promise((r) => setTimeout(r, 800));
    expect(JSON.stringify(store.getApp('a')?.lifecycle)).toContain('deploying');
    lifecycles.close();
  });
});

describe('program output cannot take the daemon down', () => {
  it('cuts a line that never ends', async () => {
    const lines: string[] = [];
    await run(['python3', '-c', 'import sys; sys.stdout.write("x" * 200000)'], { onLine: (l) => lines.push(l) });
    expect(lines.length).toBeGreaterThan(1);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(MAX_LINE + 50);
  });
  it('turns an error thrown by the line callback into a failed run, after the program ends', async () => {
    const lines: string[] = [];
    await expect(run(['sh', '-c', 'echo a; echo b; echo c'], {
      onLine: (l) => {
        lines.push(l);
        throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
      },
    })).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    expect(lines).toEqual(['a']);
  });
});

describe('the daemon log on a full disk', () => {
  it('loses the lines it cannot write and keeps the process alive', async () => {
    // /dev/full fails every write with ENOSPC, as a full disk under the log file does.
    const logger = pathToFileURL(join(import.meta.dirname, '../../src/lib/logger.ts')).href;
    const script = `import { createLogger } from ${JSON.stringify(logger)};
const log = createLogger('info');
for (let i = 0; i < 50; i++) log.warn({ i }, 'the disk is full');
setTimeout(() => process.stdout.write('alive'), 200);`;
    const r = await execa(process.execPath, ['--input-type=module', '-e', script], { stderr: { file: '/dev/full' }, reject: false, cwd: join(import.meta.dirname, '../..') });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('alive');
  });
});
