import { describe, expect, it } from 'vitest';
import { nextRun, parseCron } from '../../src/lib/cron.js';

const next = (expr: string, after: string) => nextRun(parseCron(expr), new Date(after))?.toISOString() ?? null;

describe('cron expressions (5 fields, UTC)', () => {
  it('finds the next minute each common form names', () => {
    expect(next('* * * * *', '2026-12-01T20:31:25Z')).toBe('2026-12-01T20:32:00.000Z');
    expect(next('30 3 * * *', '2026-12-01T20:31:00Z')).toBe('2026-12-02T03:30:00.000Z');
    expect(next('30 3 * * *', '2026-12-02T03:29:59Z')).toBe('2026-12-02T03:30:00.000Z');
    expect(next('*/15 * * * *', '2026-12-01T20:31:00Z')).toBe('2026-12-01T20:45:00.000Z');
    expect(next('5/20 * * * *', '2026-12-01T20:26:00Z')).toBe('2026-12-01T20:45:00.000Z');
    expect(next('0 9-17/4 * * *', '2026-12-01T14:00:00Z')).toBe('2026-12-01T17:00:00.000Z');
    expect(next('0 0 1 * *', '2026-12-01T00:00:00Z')).toBe('2027-01-01T00:00:00.000Z');
    expect(next('0 0 29 2 *', '2026-03-01T00:00:00Z')).toBe('2028-02-29T00:00:00.000Z');
    expect(next('15,45 * * * *', '2026-12-01T20:15:00Z')).toBe('2026-12-01T20:45:00.000Z');
  });

  it('reads day of week 0 and 7 as Sunday, and either day field when both are restricted', () => {
    // 2026-12-01 is a Tuesday; the next Sunday is the 6th.
    expect(next('0 12 * * 0', '2026-12-01T00:00:00Z')).toBe('2026-12-06T12:00:00.000Z');
    expect(next('0 12 * * 7', '2026-12-01T00:00:00Z')).toBe('2026-12-06T12:00:00.000Z');
    expect(next('0 12 * * 1-5', '2026-12-04T13:00:00Z')).toBe('2026-12-07T12:00:00.000Z');
    // The 15th or any Sunday, whichever comes first.
    expect(next('0 0 15 * 0', '2026-12-01T00:00:00Z')).toBe('2026-12-06T00:00:00.000Z');
    expect(next('0 0 15 * 0', '2026-12-13T00:00:00Z')).toBe('2026-12-15T00:00:00.000Z');
  });

  it('has no next run for a date that never comes', () => {
    expect(next('0 0 31 2 *', '2026-01-01T00:00:00Z')).toBeNull();
  });

  it('refuses what it does not understand, naming the field', () => {
    expect(() => parseCron('* * * *')).toThrow(/4 fields, not 5/);
    expect(() => parseCron('60 * * * *')).toThrow(/minute field "60" is out of range \(0-59\)/);
    expect(() => parseCron('* 24 * * *')).toThrow(/hour field/);
    expect(() => parseCron('* * 0 * *')).toThrow(/day of month field "0" is out of range/);
    expect(() => parseCron('* * * 13 *')).toThrow(/month field/);
    expect(() => parseCron('* * * * 8')).toThrow(/day of week field/);
    expect(() => parseCron('*/0 * * * *')).toThrow(/step of 0/);
    expect(() => parseCron('5-1 * * * *')).toThrow(/ends before it starts/);
    expect(() => parseCron('@daily')).toThrow(/1 fields/);
    expect(() => parseCron('* * * * mon')).toThrow(/day of week field "mon"/);
    expect(() => parseCron('* * * * *; rm -rf /')).toThrow(/CRON|fields|field/);
    expect(() => parseCron('')).toThrow(/required/);
    for (const bad of ['* * * *', '60 * * * *']) {
      try {
        parseCron(bad);
      } catch (err) {
        expect((err as { code: string }).code).toBe('CRON_INVALID');
      }
    }
  });
});
