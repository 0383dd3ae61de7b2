import { isAbsolute, relative, sep } from 'node:path';

/** One binary cargo says it built. */
export interface CargoBinary {
  name: string;
  /** The package's own name (a workspace builds several). */
  packageName: string;
  executable: string;
}

/**
 * The binary a `compiler-artifact` line of `cargo build --message-format=json…` names, or null
 * for any other line (diagnostics, libraries, build scripts). Pure. The line comes from the
 * app's build, so it is not trusted: only an executable inside `targetDir` counts, and a name is
 * only a plain file name.
 */
export function parseCargoBinary(line: string, targetDir: string): CargoBinary | null {
  if (!line.startsWith('{')) return null;
  let msg: unknown;
  try {
    msg = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof msg !== 'object' || msg === null) return null;
  const m = msg as { reason?: unknown; package_id?: unknown; executable?: unknown; target?: { kind?: unknown; name?: unknown } };
  if (m.reason !== 'compiler-artifact' || typeof m.executable !== 'string' || typeof m.package_id !== 'string') return null;
  if (!Array.isArray(m.target?.kind) || !m.target.kind.includes('bin') || typeof m.target.name !== 'string') return null;
  const name = m.target.name;
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(name)) return null;
  const rel = relative(targetDir, m.executable);
  if (!isAbsolute(m.executable) || rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..')) return null;
  return { name, packageName: m.package_id.split(' ')[0] ?? '', executable: m.executable };
}

/**
 * The binary that is the app's default process: the only one, else the only one named after its
 * package (cargo's own default for `cargo run`); null when that does not settle it.
 */
export function defaultBinary(binaries: CargoBinary[]): CargoBinary | null {
  if (binaries.length === 1) return binaries[0]!;
  const named = binaries.filter((b) => b.name === b.packageName);
  return named.length === 1 ? named[0]! : null;
}

/** Whether a line is one of cargo's JSON messages (kept out of the build output people read). */
export const isCargoMessage = (line: string) => line.startsWith('{"reason":');
