import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable, Transform } from 'node:stream';
import { constants, createZstdCompress, createZstdDecompress } from 'node:zlib';
import { Hop3Error, userError } from '../../../lib/errors.js';
import { ExecError, ExecInputError } from '../../../lib/exec.js';
import { lastLines } from '../server-process.js';
import type { PostgresServer } from './server.js';

/**
 * How a PostgreSQL backup file is stored. hop3 writes pg_dump's custom format uncompressed and
 * compresses the stream itself with zstd in libuv's thread pool, on the other core: PostgreSQL
 * 15's pg_dump has only zlib, single-threaded in the dumping process, and that halved the
 * throughput. Dumps written before are custom format as pg_dump compressed it (`PGDMP` first).
 * The format is told by the file's first bytes, never by its name.
 */
export type DumpFormat = 'pg-custom' | 'zstd';

const PG_CUSTOM_MAGIC = Buffer.from('PGDMP', 'latin1');
/** A zstd frame's magic number, 0xFD2FB528 little-endian (RFC 8878 3.1.1). */
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const HEAD_BYTES = Math.max(PG_CUSTOM_MAGIC.length, ZSTD_MAGIC.length);

/** zstd level 1: level 3 took 2.4-2.6 s against 1.0-1.1 s for 116 MB of hex text, and was no smaller (bench/README.md "Addons"). */
export const ZSTD_LEVEL = 1;
/** zlib's 16 KB default chunks made decompression 3 times slower (1.05 s against 0.30 s for 116 MB). */
const CHUNK = 1 << 20;

/** The format a file starting with `head` is in; null when it is neither. */
export function dumpFormat(head: Buffer): DumpFormat | null {
  if (head.subarray(0, ZSTD_MAGIC.length).equals(ZSTD_MAGIC)) return 'zstd';
  if (head.subarray(0, PG_CUSTOM_MAGIC.length).equals(PG_CUSTOM_MAGIC)) return 'pg-custom';
  return null;
}

/**
 * The compressor a dump is written through. The frame carries a checksum of its content, so a
 * changed byte anywhere fails the decompression instead of reaching pg_restore as data.
 */
export function dumpCompressor(): Transform {
  return createZstdCompress({ chunkSize: CHUNK, params: { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL, [constants.ZSTD_c_checksumFlag]: 1 } });
}

/** The custom-format dump in `path`, whichever way it is stored, as a stream for pg_restore's stdin. */
export async function openDump(path: string): Promise<Readable> {
  const fh = await open(path, 'r').catch((err: unknown) => {
    throw userError('ADDON_BACKUP_INVALID', `${path} cannot be read: ${(err as Error).message}`, { cause: err });
  });
  let format: DumpFormat | null;
  try {
    const head = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(head, 0, HEAD_BYTES, 0);
    format = dumpFormat(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
  if (format === null) throw userError('ADDON_BACKUP_INVALID', `${path} is not a PostgreSQL dump hop3 wrote (neither zstd nor pg_dump's custom format)`);
  const file = createReadStream(path, { highWaterMark: CHUNK });
  if (format === 'pg-custom') return file;
  const inflate = createZstdDecompress({ chunkSize: CHUNK });
  // A failed read of the file is the decompressed stream's failure too, and a decompressor given
  // up on (pg_restore stopped reading) closes the file.
  file.once('error', (err) => inflate.destroy(err));
  inflate.once('close', () => file.destroy());
  return file.pipe(inflate);
}

/**
 * `pg_restore --list` of a dump: its table of contents, read through to the end of the file so
 * that a truncated or corrupt compressed dump is refused here, before anything is dropped.
 */
export async function listDump(server: PostgresServer, path: string): Promise<string> {
  try {
    return (await server.exec.runFed([server.bin('pg_restore'), '--list'], await openDump(path), { timeoutMs: 600_000, readToEnd: true })).stdout;
  } catch (err) {
    if (err instanceof Hop3Error && err.code === 'ADDON_BACKUP_INVALID') throw err;
    const why = err instanceof ExecInputError ? String((err.inputError as Error).message ?? err.inputError) : lastLines(err instanceof ExecError ? err.output : String(err));
    throw userError('ADDON_BACKUP_INVALID', `${path} is not a PostgreSQL dump pg_restore can read: ${why}`, { cause: err });
  }
}
