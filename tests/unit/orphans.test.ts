import { describe, expect, it } from 'vitest';
import type { ProcInfo } from '../../src/lib/procfs.js';
import { orphanAppProcesses } from '../../src/plugins/deployers/uwsgi/orphan-processes.js';
import { orphanWorkers } from '../../src/plugins/proxies/nginx/orphan-workers.js';

const HOME = '/var/lib/hop3';
const OTHER = '/var/lib/hop3-staging';
const nginxFiles = (home: string) => [`${home}/nginx`, `${home}/log/nginx-error.log`, `${home}/log/nginx-access.log`, 'socket:[123]'];
const proc = (pid: number, ppid: number, title: string, paths: string[], envNames: string[] = []): ProcInfo => ({ pid, ppid, title, paths, envNames });

describe('orphanWorkers', () => {
  const procs = [
    proc(100, 1, 'nginx: master process nginx -p /var/lib/hop3/nginx -c /var/lib/hop3/nginx/nginx.conf', nginxFiles(HOME)),
    proc(101, 100, 'nginx: worker process', nginxFiles(HOME)), // a live master's
    proc(201, 1, 'nginx: worker process', nginxFiles(HOME)), // its master was killed
    proc(202, 1, 'nginx: worker process is shutting down', nginxFiles(HOME)),
    proc(203, 1, 'nginx: cache manager process', nginxFiles(HOME)),
    proc(301, 1, 'nginx: worker process', nginxFiles(OTHER)), // another instance whose home shares a prefix
    proc(401, 1, 'nginx: worker process', ['/', '/var/log/nginx/error.log']), // the system nginx
    proc(501, 1, 'python3 app.py nginx: worker process', nginxFiles(HOME)), // not nginx
    proc(601, 999, 'nginx: worker process', [`${HOME}/log/nginx-error.log`]), // parent gone, not reparented yet
  ];

  it('finds the workers of a dead master of this home, and only those', () => {
    expect(orphanWorkers(procs, HOME)).toEqual([201, 202, 203, 601]);
  });

  it('leaves another home alone, whatever its name shares with this one', () => {
    expect(orphanWorkers(procs, OTHER)).toEqual([301]);
    expect(orphanWorkers(procs, `${HOME}/`)).toEqual([201, 202, 203, 601]);
  });

  it('finds nothing while the master lives', () => {
    expect(orphanWorkers(procs.slice(0, 2), HOME)).toEqual([]);
  });
});

describe('orphanAppProcesses', () => {
  const src = `${HOME}/apps/a/releases/v1/src`;
  const procs = [
    proc(10, 1, '/usr/bin/node /opt/hop3/dist/src/cli/hop3-server.js serve', [HOME]),
    proc(11, 10, '/bin/sh -c python manage.py migrate', [src], ['HOP3_APP', 'PATH']), // a release command
    proc(20, 1, 'uwsgi --emperor /var/lib/hop3/uwsgi-enabled', [`${HOME}/uwsgi-enabled`]),
    proc(21, 20, '/usr/bin/uwsgi-core --ini a.v1.web.ini', [`${HOME}/uwsgi-enabled`], ['HOP3_APP']),
    proc(22, 21, 'python3 server.py', [src], ['HOP3_APP']), // a live vassal's daemon
    proc(30, 1, 'python3 server.py', [`${src} (deleted)`], ['HOP3_APP', 'PORT']), // its vassal died with the emperor
    proc(31, 30, 'python3 server.py worker', [src], ['HOP3_APP']), // goes with its parent
    proc(40, 1, 'python3 server.py', [`${OTHER}/apps/a/releases/v1/src`], ['HOP3_APP']), // another home
    proc(50, 1, 'python3 -m http.server', [src], ['PATH']), // not started by hop3
  ];

  it('finds what dead vassals of this home left running, and nothing hop3 or a live vassal runs', () => {
    expect(orphanAppProcesses(procs, HOME)).toEqual([30]);
  });

  it('leaves another home alone', () => {
    expect(orphanAppProcesses(procs, OTHER)).toEqual([40]);
  });
});
