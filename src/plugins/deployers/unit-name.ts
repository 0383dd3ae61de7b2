/**
 * Unit (vassal) names are `<app>.v<release>.<process>`: app and process names cannot hold a dot,
 * so a file name always tells which app and release it belongs to.
 */
export function unitName(app: string, version: number, process: string): string {
  return `${app}.v${version}.${process}`;
}

export function parseUnitName(name: string): { app: string; version: number; process: string } | null {
  const m = /^([a-z0-9-]+)\.v(\d+)\.([a-z0-9-]+)$/.exec(name);
  return m ? { app: m[1]!, version: Number(m[2]), process: m[3]! } : null;
}
