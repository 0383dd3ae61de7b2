import { zstdCompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { dumpFormat } from '../../src/plugins/addons/postgres/dump-stream.js';

describe('dumpFormat', () => {
  it('tells a zstd frame and pg_dump custom format by their first bytes', () => {
    expect(dumpFormat(zstdCompressSync(Buffer.from('PGDMP\x01\x0e\x00')))).toBe('zstd');
    expect(dumpFormat(Buffer.from('PGDMP\x01\x0e\x00\x04\x08\x01\x01'))).toBe('pg-custom');
  });

  it('is null for anything else, a file cut shorter than a magic number, or a magic number out of place', () => {
    for (const head of ['', 'PGDM', 'pgdmp', '-- MariaDB dump', 'HOP3-REDIS-KEYS', ' PGDMP', '\x1f\x8b\x08\x00']) expect(dumpFormat(Buffer.from(head, 'latin1'))).toBeNull();
    expect(dumpFormat(Buffer.from([0x28, 0xb5, 0x2f]))).toBeNull();
    expect(dumpFormat(Buffer.from([0x00, 0x28, 0xb5, 0x2f, 0xfd]))).toBeNull();
  });
});
