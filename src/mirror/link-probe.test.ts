import { describe, expect, it } from 'vitest';
import { viaNotice } from './link-probe.js';

describe('viaNotice', () => {
  it.each<[string | undefined, string | undefined, ReturnType<typeof viaNotice>]>([
    ['10.2.0.3:4143', undefined, 'elsewhere'],
    ['10.2.0.4:4143', '10.2.0.3:4143', 'elsewhere'],
    [undefined, '10.2.0.3:4143', 'probed'],
    [undefined, undefined, undefined],
  ])('answered at %s, before at %s: %s', (via, before, expected) => {
    expect(viaNotice(via, before)).toBe(expected);
  });
});
