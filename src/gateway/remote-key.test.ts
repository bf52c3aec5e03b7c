/** The session pool's key of a remote address: one per address, whatever its spelling. */
import { describe, expect, it } from 'vitest';
import { remoteKey } from './remote-key.js';

describe('remoteKey', () => {
  it.each([
    ['a lower-case name is its own key', 'gw.example', 'gw.example|4143'],
    ['an IPv4 address is its own key', '10.0.0.7', '10.0.0.7|4143'],
    ['a name in upper case is lower-cased', 'GW.Example', 'gw.example|4143'],
    ['an IPv6 address is compressed and lower-cased', 'FD00:0:0::1', 'fd00::1|4143'],
    ['a compressed IPv6 address is its own key', 'fd00::1', 'fd00::1|4143'],
  ])('%s', (_why, host, key) => {
    expect(remoteKey({ host, port: 4143 })).toBe(key);
  });

  it('gives every spelling of one address the same key, once canonicalised too', () => {
    const spellings = ['FD00::1', 'fd00:0::1', 'FD00:0000:0000::0001', 'FD00::1'];
    expect(new Set(spellings.map((host) => remoteKey({ host, port: 1 })))).toEqual(new Set(['fd00::1|1']));
  });
});
