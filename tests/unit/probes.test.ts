import { describe, expect, it } from 'vitest';
import { FAILS_TO_DEGRADE, ProbeBook } from '../../src/reconcile/probes.js';

describe('ProbeBook', () => {
  it('has no verdict for an app never probed, or one whose requests get through', () => {
    const b = new ProbeBook();
    expect(b.verdict('a')).toBeNull();
    expect(b.record('a', true, 'HTTP 404')).toBe(false);
    expect(b.verdict('a')).toBeNull();
  });

  it(`is Degraded after ${FAILS_TO_DEGRADE} failures in a row, naming the last, and Healthy again after one success`, () => {
    const b = new ProbeBook();
    expect(b.record('a', false, 'HTTP 502')).toBe(false);
    expect(b.verdict('a')).toBeNull();
    expect(b.record('a', false, 'connect ECONNREFUSED 127.0.0.1:80')).toBe(true);
    expect(b.verdict('a')).toEqual({ health: 'Degraded', message: 'requests through the proxy fail (last: connect ECONNREFUSED 127.0.0.1:80)' });
    // A standing failure with the same cause changes nothing (no pass, no status write).
    expect(b.record('a', false, 'connect ECONNREFUSED 127.0.0.1:80')).toBe(false);
    expect(b.record('a', true, 'HTTP 200')).toBe(true);
    expect(b.verdict('a')).toBeNull();
  });

  it('a failure between successes is not enough', () => {
    const b = new ProbeBook();
    for (const ok of [false, true, false, true]) b.record('a', ok, ok ? 'HTTP 200' : 'HTTP 503');
    expect(b.verdict('a')).toBeNull();
  });

  it('an outage holds Degraded until a request gets through', () => {
    const b = new ProbeBook();
    b.markDown('a', 'emperor is down (pid 7 is gone); restarting it');
    expect(b.isDown('a')).toBe(true);
    expect(b.verdict('a')).toEqual({ health: 'Degraded', message: 'emperor is down (pid 7 is gone); restarting it' });
    b.record('a', false, 'HTTP 502');
    expect(b.verdict('a')?.message).toContain('emperor is down');
    expect(b.record('a', true, 'HTTP 200')).toBe(true);
    expect(b.isDown('a')).toBe(false);
    expect(b.verdict('a')).toBeNull();
    expect(b.verdict('b')).toBeNull();
  });
});
