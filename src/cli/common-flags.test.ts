import { describe, expect, it } from 'vitest';
import { anyAddress } from '../host-port.js';
import {
  parseDurationFlag,
  parseHttpUrlFlag,
  parseIntegerFlag,
  parseListen,
  parsePortRangeFlag,
} from './common-flags.js';

describe('parseListen', () => {
  it.each([
    ['127.0.1.1:4143', { host: '127.0.1.1', port: 4143 }],
    [':8080', { host: anyAddress(), port: 8080 }],
    ['8080', { host: anyAddress(), port: 8080 }],
    ['[::1]:4191', { host: '::1', port: 4191 }],
  ])('%s', (text, want) => expect(parseListen(text, '--listen')).toEqual(want));

  it.each(['', 'host:', 'host:70000', 'a:b'])('rejects %j', (text) => {
    expect(() => parseListen(text, '--listen')).toThrow(/--listen must be HOST:PORT/);
  });
});

describe('parseIntegerFlag', () => {
  it('takes whole numbers in range and names the flag otherwise', () => {
    expect(parseIntegerFlag('16', '--mirror-workers', 1, 256)).toBe(16);
    for (const bad of ['0', '257', '1.5', '-1', '', 'x']) {
      expect(() => parseIntegerFlag(bad, '--mirror-workers', 1, 256)).toThrow(
        `--mirror-workers must be an integer from 1 to 256, got "${bad}"`,
      );
    }
  });
});

describe('parsePortRangeFlag', () => {
  it.each([
    ['20000-29999', { first: 20000, last: 29999 }],
    ['4000-4000', { first: 4000, last: 4000 }],
  ])('parses %s', (text, range) => expect(parsePortRangeFlag(text, '--egress-port-range')).toEqual(range));

  it.each(['', '20000', '2-1', '0-10', '1-70000', 'a-b'])('refuses %j, naming the flag', (text) =>
    expect(() => parsePortRangeFlag(text, '--egress-port-range')).toThrow(
      `--egress-port-range must be FIRST-LAST within 1-65535, got "${text}"`,
    ),
  );
});

describe('parseDurationFlag', () => {
  it.each([
    ['24h', 86_400_000],
    ['90s', 90_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
  ])('%s', (text, ms) => expect(parseDurationFlag(text, '--x')).toBe(ms));

  it.each(['', '10', '5 s', '-1s', '0s', 'soon'])('rejects %j', (text) => {
    expect(() => parseDurationFlag(text, '--x')).toThrow(/--x must be a duration/);
  });
});

describe('parseHttpUrlFlag', () => {
  it('takes http(s) URLs', () => {
    expect(parseHttpUrlFlag('http://127.0.0.1:4191', '--controller-admin', 'x').port).toBe('4191');
    expect(parseHttpUrlFlag('https://[::1]:6443', '--api-server-address', 'x').hostname).toBe('[::1]');
  });

  it.each(['localhost:4191', '127.0.0.1:4191', 'tcp://10.0.0.1:1', '', 'http://'])(
    'refuses %j, naming the flag',
    (text) => {
      expect(() => parseHttpUrlFlag(text, '--controller-admin', 'http://127.0.0.1:4191')).toThrow(
        `--controller-admin must be a URL such as http://127.0.0.1:4191, got "${text}"`,
      );
    },
  );
});
