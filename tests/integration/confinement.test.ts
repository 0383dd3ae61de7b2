import { createReadStream, createWriteStream, existsSync, lchownSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { c as tarCreate, Header } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountIds } from '../../src/lib/accounts.js';
import { appDir, Daemon, git, output, within } from './harness.js';

const PASSWD = readFileSync('/etc/passwd', 'utf8');
const INDEX = '<h1>the site</h1>\n';

/** r0 -> ., r1 -> r0/.., ..., r12 -> r11/..: each reads as inside; the kernel walks up to /. */
function plantChain(dir: string): void {
  symlinkSync('.', join(dir, 'r0'));
  for (let i = 1; i <= 12; i++) symlinkSync(`r${i - 1}/..`, join(dir, `r${i}`));
  symlinkSync('r12', join(dir, 'public'));
}

/** The gzipped tar `hop3 deploy` would upload for `dir` (links kept as links), base64. */
async function archiveDir(dir: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of tarCreate({ gzip: true, cwd: dir }, readdirSync(dir)) as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('base64');
}

/** Every way the chain could hand out /etc/passwd through nginx. */
const PASSWD_PATHS = ['/etc/passwd', '/r12/etc/passwd', '/public/etc/passwd', '/r1/r1/r1/etc/passwd', '/../../etc/passwd'];

async function neverServesPasswd(d: Daemon, host: string): Promise<void> {
  for (const path of PASSWD_PATHS) {
    const r = await d.get(host, path);
    expect(r.body, `${host}${path}`).not.toContain('root:x:0:0');
    expect(r.status, `${host}${path}`).not.toBe(200);
  }
}

/**
 * A gzip bomb on disk, never in memory: a tar of `files` entries of `fileMiB` MiB of zeros, as
 * gzip members (each MiB of zeros compresses to about 1 KiB; concatenated members are one gzip).
 */
async function writeBomb(path: string, files: number, fileMiB: number): Promise<number> {
  const zeros = gzipSync(Buffer.alloc(1024 * 1024), { level: 9 });
  const out = createWriteStream(path);
  const write = async (b: Buffer) => {
    if (!out.write(b)) await once(out, 'drain');
  };
  for (let i = 0; i < files; i++) {
    const block = Buffer.alloc(512);
    new Header({ path: `zeros-${i}`, type: 'File', size: fileMiB * 1024 * 1024, mode: 0o644, mtime: new Date(0) }).encode(block, 0);
    await write(gzipSync(block));
    for (let m = 0; m < fileMiB; m++) await write(zeros);
  }
  await write(gzipSync(Buffer.alloc(1024)));
  out.end();
  await once(out, 'close');
  return statSync(path).size;
}

/** POST apps.deploy with the archive at `path`, base64-encoded while it streams from disk. */
function deployFromDisk(d: Daemon, app: string, path: string): Promise<{ status: number; body: any }> {
  const head = `{"jsonrpc":"2.0","id":1,"method":"apps.deploy","params":{"app":"${app}","archive":"`;
  const tail = '"}}';
  const length = head.length + 4 * Math.ceil(statSync(path).size / 3) + tail.length;
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port: d.apiPort, path: '/rpc', method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${d.token()}`, 'content-length': length, 'x-hop3-method': 'apps.deploy' },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.on('error', reject);
    req.write(head);
    // Chunks of a multiple of 3 bytes encode to base64 with no padding in between.
    const file = createReadStream(path, { highWaterMark: 3 * 64 * 1024 });
    file.on('data', (c) => {
      if (!req.write((c as Buffer).toString('base64'))) {
        file.pause();
        req.once('drain', () => file.resume());
      }
    });
    file.on('end', () => req.end(tail));
    file.on('error', reject);
  });
}

/** Highest resident set of a process so far, in MiB. */
const peakRssMiB = (pid: number) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

describe('what an app ships stays inside its release', () => {
  const d = new Daemon();
  const SITE = 'site';
  const work: string[] = [];
  const tracked = (dir: string) => (work.push(dir), dir);
  const releases = async (app: string) => (await d.rpc('releases.list', { app })).body.result as Array<{ version: string; status: string }>;

  beforeAll(async () => {
    await d.start();
    const dir = tracked(appDir({
      'index.html': INDEX,
      'ENV': 'SECRET_KEY=do-not-serve\n',
      'hop3.toml': '[env]\nTOKEN = "do-not-serve"\n',
      'Procfile': '# nothing but the static site\n',
      '.secret': 'do-not-serve\n',
      '.git/config': '[core]\n\tdo-not-serve = true\n',
      'assets/.env': 'do-not-serve\n',
      'assets/app.css': 'body {}\n',
    }));
    const res = await d.rpc('apps.deploy', { app: SITE, archive: await archiveDir(dir) });
    expect(res.body.error).toBeUndefined();
    await within(30_000, async () => (await d.rpc('apps.status', { app: SITE })).body.result?.health === 'Healthy');
    expect(await releases(SITE)).toMatchObject([{ version: 'v1', status: 'live' }]);
  });
  afterAll(async () => {
    await d.cleanup();
    for (const dir of work) rmSync(dir, { recursive: true, force: true });
  });

  it("serves a static site's pages but never hop3's files or dotfiles", async () => {
    expect(await d.get(`${SITE}.localhost`, '/')).toEqual({ status: 200, body: INDEX });
    expect((await d.get(`${SITE}.localhost`, '/assets/app.css')).status).toBe(200);
    for (const path of ['/ENV', '/hop3.toml', '/Procfile', '/.secret', '/.git/config', '/.git/', '/assets/.env', '/%45NV', '//ENV', '/./hop3.toml']) {
      const r = await d.get(`${SITE}.localhost`, path);
      expect(r.status, path).toBe(404);
      expect(r.body, path).not.toContain('do-not-serve');
    }
  });

  it('keeps the spec files from the nginx worker and gives it the rest', () => {
    const src = join(d.home, 'apps', SITE, 'releases', 'v1', 'src');
    const worker = accountIds('www-data')!;
    expect(statSync(join(src, 'index.html'))).toMatchObject({ uid: worker.uid });
    for (const f of ['ENV', 'hop3.toml', 'Procfile']) {
      expect(statSync(join(src, f)), f).toMatchObject({ uid: 0 });
      expect(statSync(join(src, f)).mode & 0o777, f).toBe(0o600);
    }
  });

  it('refuses an uploaded chain of links out of the app, naming the link, and keeps serving', async () => {
    const dir = tracked(appDir({ 'index.html': 'chain\n', 'hop3.toml': '[run]\nstatic = "public"\n' }));
    plantChain(dir);
    const res = await d.rpc('apps.deploy', { app: SITE, archive: await archiveDir(dir) });
    expect(res.body.error?.data).toMatchObject({ code: 'APP_LINK_OUTSIDE', category: 'user' });
    expect(res.body.error.message).toContain('public -> r12 resolves outside the app: /');
    expect(await releases(SITE)).toMatchObject([{ version: 'v1', status: 'live' }]);
    expect(readdirSync(join(d.home, 'apps', SITE, 'releases'))).toEqual(['v1']);
    await neverServesPasswd(d, `${SITE}.localhost`);
    expect((await d.get(`${SITE}.localhost`)).body).toBe(INDEX);
  });

  it('refuses a link anywhere in the tree, not only the static root', async () => {
    const dir = tracked(appDir({ 'index.html': 'deep\n', 'docs/readme.txt': 'x' }));
    mkdirSync(join(dir, 'docs', 'a', 'b'), { recursive: true });
    symlinkSync('../../../../../../../../../../../../../../../../etc/passwd', join(dir, 'docs', 'a', 'b', 'pw.txt'));
    const res = await d.rpc('apps.deploy', { app: SITE, archive: await archiveDir(dir) });
    expect(res.body.error?.data).toMatchObject({ code: 'ARCHIVE_ENTRY_REFUSED', category: 'user' });
    expect(res.body.error.message).toMatch(/^the archive entry "docs\/a\/b\/pw\.txt" is a link out of the app/);
    expect(await releases(SITE)).toMatchObject([{ version: 'v1', status: 'live' }]);
  });

  it('refuses a chain of links pushed with git, naming the link', async () => {
    const APP = 'pushed';
    const repo = tracked(appDir({ 'index.html': 'pushed chain\n', 'hop3.toml': '[run]\nstatic = "public"\n' }));
    plantChain(repo);
    expect((await git(repo, ['init', '-q', '-b', 'main'])).exitCode).toBe(0);
    expect((await git(repo, ['add', '-A'])).exitCode).toBe(0);
    expect((await git(repo, ['commit', '-q', '-m', 'chain'])).exitCode).toBe(0);
    const url = `http://hop3:${d.token()}@127.0.0.1:${d.apiPort}/git/${APP}.git`;
    const r = await git(repo, ['push', url, 'main']);
    expect(r.exitCode, output(r)).not.toBe(0);
    expect(String(r.stderr)).toContain('public -> r12 resolves outside the app: /');
    expect((await d.rpc('apps.status', { app: APP })).body.error?.data?.code).toBe('APP_NOT_FOUND');
    await neverServesPasswd(d, `${APP}.localhost`);
    // git itself refuses a pack larger than an app may be.
    const maxInput = await git(join(d.home, 'apps', APP, 'git'), ['config', '--get', 'receive.maxInputSize']);
    expect(String(maxInput.stdout).trim()).toBe(String(1024 ** 3));
  });

  it('fails a release whose build command makes a link out of the app, and keeps serving', async () => {
    const dir = tracked(appDir({ 'index.html': 'built link\n', 'hop3.toml': '[build]\nbuilder = "static"\nbefore-build = ["ln -s /etc/passwd pw.txt"]\n' }));
    const res = await d.rpc('apps.deploy', { app: SITE, archive: await archiveDir(dir) });
    expect(res.body.result).toMatchObject({ release: 'v2' });
    const { value: failed } = await within(60_000, async () => (await releases(SITE)).find((r) => r.version === 'v2' && r.status === 'failed'));
    expect((failed as { message?: string }).message).toContain('pw.txt -> /etc/passwd resolves outside the app: /etc/passwd');
    expect(await d.get(`${SITE}.localhost`)).toEqual({ status: 200, body: INDEX });
    expect((await d.get(`${SITE}.localhost`, '/pw.txt')).body).not.toContain('root:x:0:0');
  });

  it('nginx refuses a link in a live release that does not share its target owner', async () => {
    const src = join(d.home, 'apps', SITE, 'releases', 'v1', 'src');
    const worker = accountIds('www-data')!;
    // As if the app had shipped them: links owned by the worker, as every shipped entry is.
    symlinkSync('/etc/passwd', join(src, 'planted.txt'));
    symlinkSync('index.html', join(src, 'inside.html'));
    for (const l of ['planted.txt', 'inside.html']) lchownSync(join(src, l), worker.uid, worker.gid);
    try {
      const out = await d.get(`${SITE}.localhost`, '/planted.txt');
      expect([403, 404]).toContain(out.status);
      expect(out.body).not.toContain(PASSWD.split('\n')[0]);
      expect(await d.get(`${SITE}.localhost`, '/inside.html')).toEqual({ status: 200, body: INDEX });
    } finally {
      for (const l of ['planted.txt', 'inside.html']) rmSync(join(src, l), { force: true });
    }
  });

  it('refuses a decompression bomb as it crosses HOP3_MAX_APP_BYTES, in little memory', async () => {
    const bomb = join(d.home, 'bomb.tar.gz');
    // 28 files of 256 MiB of zeros: 7 GiB once unpacked.
    const size = await writeBomb(bomb, 28, 256);
    expect(size).toBeLessThan(16 * 1024 * 1024);
    const rssBefore = peakRssMiB(d.pid);
    const start = Date.now();
    const res = await deployFromDisk(d, 'bomb', bomb);
    const ms = Date.now() - start;
    rmSync(bomb);
    const rss = peakRssMiB(d.pid);
    console.log(`bomb: ${(size / 1024 / 1024).toFixed(1)} MiB gzip (7 GiB unpacked) refused in ${ms} ms; daemon VmHWM ${rssBefore.toFixed(0)} MiB before, ${rss.toFixed(0)} MiB after`);
    expect(res.body.error?.data).toMatchObject({ code: 'APP_TOO_LARGE', category: 'user' });
    expect(res.body.error.message).toBe('the app unpacks to more than 1 GiB (HOP3_MAX_APP_BYTES)');
    expect(rss).toBeLessThan(400);
    expect((await d.rpc('apps.status', { app: 'bomb' })).body.error?.data?.code).toBe('APP_NOT_FOUND');
    const releasesDir = join(d.home, 'apps', 'bomb', 'releases');
    expect(existsSync(releasesDir) ? readdirSync(releasesDir) : []).toEqual([]);
  });
});

describe('the entry limit, and the byte limit on pushes', () => {
  const d = new Daemon({ HOP3_MAX_APP_FILES: '50', HOP3_MAX_APP_BYTES: '65536' });
  const work: string[] = [];
  beforeAll(() => d.start());
  afterAll(async () => {
    await d.cleanup();
    for (const dir of work) rmSync(dir, { recursive: true, force: true });
  });

  const manyFiles = () => {
    const files: Record<string, string> = { 'index.html': INDEX };
    for (let i = 0; i < 200; i++) files[`f/${i}.txt`] = '';
    return files;
  };

  it('refuses an upload of more entries than HOP3_MAX_APP_FILES', async () => {
    const dir = appDir(manyFiles());
    work.push(dir);
    const res = await d.rpc('apps.deploy', { app: 'many', archive: await archiveDir(dir) });
    expect(res.body.error?.data).toMatchObject({ code: 'APP_TOO_MANY_FILES', category: 'user' });
    expect(res.body.error.message).toBe('the app unpacks to more than 50 files (HOP3_MAX_APP_FILES)');
    expect((await d.rpc('apps.status', { app: 'many' })).body.error?.data?.code).toBe('APP_NOT_FOUND');
  });

  it('refuses a push of more entries than HOP3_MAX_APP_FILES', async () => {
    const repo = appDir(manyFiles());
    work.push(repo);
    writeFileSync(join(repo, 'f', '0.txt'), 'x');
    expect((await git(repo, ['init', '-q', '-b', 'main'])).exitCode).toBe(0);
    expect((await git(repo, ['add', '-A'])).exitCode).toBe(0);
    expect((await git(repo, ['commit', '-q', '-m', 'many'])).exitCode).toBe(0);
    const r = await git(repo, ['push', `http://hop3:${d.token()}@127.0.0.1:${d.apiPort}/git/many-pushed.git`, 'main']);
    expect(r.exitCode, output(r)).not.toBe(0);
    expect(String(r.stderr)).toContain('the app unpacks to more than 50 files (HOP3_MAX_APP_FILES)');
  });

  /** Commit `files` in a new repository and push it to `app`. */
  const push = async (app: string, files: Record<string, string | Buffer>) => {
    const repo = appDir({ 'index.html': INDEX });
    work.push(repo);
    for (const [name, content] of Object.entries(files)) writeFileSync(join(repo, name), content);
    expect((await git(repo, ['init', '-q', '-b', 'main'])).exitCode).toBe(0);
    expect((await git(repo, ['add', '-A'])).exitCode).toBe(0);
    expect((await git(repo, ['commit', '-q', '-m', 'big'])).exitCode).toBe(0);
    return git(repo, ['push', `http://hop3:${d.token()}@127.0.0.1:${d.apiPort}/git/${app}.git`, 'main']);
  };

  it('has git refuse a pack larger than HOP3_MAX_APP_BYTES', async () => {
    const r = await push('big-pack', { 'noise.bin': randomBytes(256 * 1024) });
    expect(r.exitCode, output(r)).not.toBe(0);
    expect(String(r.stderr)).toContain('pack exceeds maximum allowed size');
    expect((await d.rpc('apps.status', { app: 'big-pack' })).body.error?.data?.code).toBe('APP_NOT_FOUND');
  });

  it('refuses a small pack that unpacks to more than HOP3_MAX_APP_BYTES', async () => {
    const r = await push('big-tree', { 'zeros.bin': Buffer.alloc(1024 * 1024) });
    expect(r.exitCode, output(r)).not.toBe(0);
    expect(String(r.stderr)).toContain('the app unpacks to more than 64 KiB (HOP3_MAX_APP_BYTES)');
  });
});
