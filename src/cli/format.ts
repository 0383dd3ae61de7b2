import type { DriftRecord, EventRecord } from '../store/types.js';

const MANIFEST_DETACH = 'its [[addons]] entry is gone from hop3.toml; the addon and its data are kept';

/** What `hop3 deploy` and a `git push` say of an attachment their hop3.toml no longer declares. */
export const formatManifestDetach = (d: { addon: string; env: string }) =>
  `-----> Detached from addon ${d.addon} (${d.env}): ${MANIFEST_DETACH}; the app's login to it is dropped by the rollout (by a later pass if its server does not answer)`;

/** One line per event; the switch is exhaustive so a new kind cannot go unrendered. */
export function formatEvent(e: EventRecord): string {
  const head = `${e.at}  ${e.app ?? '-'}  `;
  switch (e.kind) {
    case 'release.created':
      return `${head}release v${e.data.release} created (${e.data.source})`;
    case 'build.started':
      return `${head}build of v${e.data.release} started (${e.data.builder})`;
    case 'build.succeeded':
      return `${head}build of v${e.data.release} succeeded (${e.data.artifact})`;
    case 'output':
      return `${head}v${e.data.release} ${e.data.phase}: ${e.data.line}`;
    case 'release.live':
      return `${head}release v${e.data.release} is live`;
    case 'release.failed':
      return `${head}release v${e.data.release} failed: ${e.data.message}${e.data.hint ? ` (hint: ${e.data.hint})` : ''}`;
    case 'config.changed':
      return `${head}config changed${e.data.set ? ` set ${e.data.set.join(', ')}` : ''}${e.data.unset ? ` unset ${e.data.unset.join(', ')}` : ''}${e.data.restoredFrom ? ` (restored from v${e.data.restoredFrom})` : ''}`;
    case 'app.scaled':
      return `${head}scaled ${Object.entries(e.data.counts).map(([p, n]) => `${p}=${n}`).join(' ')}`;
    case 'drift':
      return `${head}drift ${e.data.kind} ${e.data.resource}: ${e.data.observed} (${e.data.action})`;
    case 'app.destroyed':
      return `${head}app destroyed`;
    case 'addon.attached':
      return `${head}attached to addon ${e.data.addon} as ${e.data.env}`;
    case 'addon.detached':
      return `${head}detached from addon ${e.data.addon} (${e.data.env})${e.data.reason === 'manifest' ? `: ${MANIFEST_DETACH}` : ''}`;
    case 'push.unlanded':
      return `${head}release v${e.data.release} went live but git never recorded its push (${e.data.commit.slice(0, 12)}): rolled back`;
    case 'cert.renewal-requested':
      return `${head}certificate renewal requested`;
    case 'cert.renewed':
      return `${head}certificate for ${e.data.names.join(', ')} renewed until ${e.data.notAfter} (${e.data.reasons.join('; ')})`;
    case 'cert.failed':
      return `${head}certificate for ${e.data.names.join(', ')} not issued: ${e.data.message}${e.data.hint ? ` (hint: ${e.data.hint})` : ''}${e.data.standIn ? '; a self-signed stand-in serves meanwhile' : ''}`;
    case 'cron.ran': {
      const status = e.data.exitCode === null ? e.data.outcome : `${e.data.outcome}, exit ${e.data.exitCode}`;
      const output = e.data.output.length === 0 ? '' : `\n${e.data.output.map((l) => `    ${l}`).join('\n')}`;
      return `${head}cron ${e.data.process} of v${e.data.release} (${e.data.schedule}) ran ${e.data.seconds} s: ${status}${e.data.dropped ? ` (${e.data.dropped} earlier lines not kept)` : ''}${output}`;
    }
    default: {
      const never: never = e;
      return `${head}${JSON.stringify(never)}`;
    }
  }
}

export function formatDrift(d: DriftRecord): string {
  return `${d.detectedAt}  ${d.app}  ${d.kind.padEnd(10)} ${d.resource}  desired: ${d.desired}; observed: ${d.observed}  [${d.action}]`;
}

export function table(rows: Record<string, unknown>[], columns: string[]): string {
  const cells = [columns.map((c) => c.toUpperCase()), ...rows.map((r) => columns.map((c) => String(r[c] ?? '-')))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
