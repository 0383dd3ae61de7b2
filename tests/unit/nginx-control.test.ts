import { describe, expect, it } from 'vitest';
import { ExecError } from '../../src/lib/exec.js';
import { Hop3Error } from '../../src/lib/errors.js';
import { pidDirective, startError } from '../../src/plugins/proxies/nginx/master.js';

describe('pidDirective (nginx -T output)', () => {
  it('finds the pid file the configuration names', () => {
    const dump = '# configuration file /etc/nginx/nginx.conf:\nuser www-data;\nworker_processes auto;\npid /run/nginx.pid;\nevents {}\n';
    expect(pidDirective(dump)).toBe('/run/nginx.pid');
    expect(pidDirective('  pid  "/tmp/x/nginx.pid" ;\n')).toBe('/tmp/x/nginx.pid');
    expect(pidDirective('pid logs/nginx.pid;')).toBe('logs/nginx.pid');
  });

  it('ignores comments and other directives, and gives null when there is none', () => {
    expect(pidDirective('# pid /nope.pid;\nworker_processes 1;\nssl_stapling_pid x;\n')).toBeNull();
  });
});

describe('startError (the embedded master did not start)', () => {
  it('names HOP3_HTTPS_PORT when the HTTPS port is the one taken', () => {
    const e = startError(failed('nginx: [emerg] bind() to 0.0.0.0:8443 failed (98: Address already in use)'), 8080, 8443) as Hop3Error;
    expect(e.message).toContain('port 8443 is already in use');
    expect(e.hint).toContain('set HOP3_HTTPS_PORT to a free port');
    const http = startError(failed('nginx: [emerg] bind() to 0.0.0.0:8080 failed (98: Address already in use)'), 8080, 8443) as Hop3Error;
    expect(http.hint).toContain('set HOP3_HTTP_PORT to a free port');
  });

  const failed = (output: string) => new ExecError(['nginx', '-p', '/h/nginx'], 1, output, 'exited with code 1');

  it('says that the port is taken and what to do', () => {
    const e = startError(failed('nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)\nnginx: [emerg] still could not bind()'), 80) as Hop3Error;
    expect(e).toMatchObject({ code: 'HTTP_PORT_IN_USE', category: 'operational' });
    expect(e.message).toContain('port 80 is already in use');
    expect(e.hint).toMatch(/systemctl disable --now nginx.*HOP3_HTTP_PORT.*HOP3_NGINX=system/);
  });

  it('says when the port needs root', () => {
    const e = startError(failed('nginx: [emerg] bind() to 0.0.0.0:80 failed (13: Permission denied)'), 80) as Hop3Error;
    expect(e).toMatchObject({ code: 'HTTP_PORT_DENIED', category: 'operational' });
    expect(e.hint).toContain('HOP3_HTTP_PORT');
  });

  it('passes any other failure on with the end of nginx output', () => {
    const e = startError(failed('nginx: [emerg] unknown directive "bogus" in /h/nginx/nginx.conf:3'), 80) as Hop3Error;
    expect(e).toMatchObject({ code: 'NGINX_START_FAILED', category: 'operational' });
    expect(e.message).toContain('unknown directive "bogus"');
  });
});
