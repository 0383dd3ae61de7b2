/**
 * Unit (vassal) names are `<app>.v<release>.<instance>`, the instance being the process name or
 * `<process>.<index>` past the first (see instanceName): app and process names cannot hold a
 * dot, so a file name always tells which app, release, process and instance it belongs to.
 */
export function unitName(app: string, version: number, instance: string): string {
  return `${app}.v${version}.${instance}`;
}

export function parseUnitName(name: string): { app: string; version: number; process: string; index: number } | null {
  const m = /^([a-z0-9-]+)\.v(\d+)\.([a-z0-9-]+)(?:\.([1-9]\d{0,2}))?$/.exec(name);
  return m ? { app: m[1]!, version: Number(m[2]), process: m[3]!, index: m[4] === undefined ? 1 : Number(m[4]) } : null;
}
