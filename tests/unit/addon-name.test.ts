import { describe, expect, it } from 'vitest';
import { ADDON_NAME_MAX, checkAddonName, isAddonName } from '../../src/plugins/addons/addon-name.js';

describe('addon names', () => {
  it.each(['blog', 'blog-db', 'a1', 'x', 'shop-2024-cache', 'a'.repeat(ADDON_NAME_MAX)])('accepts %s', (name) => {
    expect(checkAddonName(name)).toBe(name);
    expect(isAddonName(name)).toBe(true);
  });

  it.each([
    ['x; DROP', /not a valid name/],
    ['x; DROP DATABASE postgres; --', /not a valid name/],
    ["o'brien", /not a valid name/],
    ['say"hi"', /not a valid name/],
    ['back`tick', /not a valid name/],
    ['new\nline', /not a valid name/],
    ['a'.repeat(200), /200 characters long; at most 32/],
    ['a'.repeat(ADDON_NAME_MAX + 1), /33 characters long/],
    ['Blog', /not a valid name/],
    ['1blog', /not a valid name/],
    ['blog-', /not a valid name/],
    ['blog--db', /not a valid name/],
    ['blog_db', /not a valid name/],
    ['blog*', /not a valid name/],
    ['blog:x', /not a valid name/],
    ['blög', /not a valid name/],
    ['', /required/],
    ['postgres', /reserved/],
    ['template1', /reserved/],
    ['mysql', /reserved/],
    ['root', /reserved/],
    ['default', /reserved/],
    ['hop3', /reserved/],
  ])('refuses %j with a user error', (name, message) => {
    let err: unknown;
    try {
      checkAddonName(name);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'ADDON_NAME_INVALID', category: 'user' });
    expect((err as Error).message).toMatch(message);
    expect((err as { hint?: string }).hint).toBeTruthy();
    expect(isAddonName(name)).toBe(false);
  });

  it('refuses what is not a string', () => {
    expect(() => checkAddonName(42)).toThrow(expect.objectContaining({ code: 'ADDON_NAME_INVALID' }));
    expect(() => checkAddonName(undefined)).toThrow(expect.objectContaining({ code: 'ADDON_NAME_INVALID' }));
  });

  it('shows a long hostile name cut short in the message', () => {
    expect(() => checkAddonName('a'.repeat(200))).toThrow(/"a{40}…"/);
  });
});
