import { describe, expect, it } from 'vitest';
import { buildCommand, parsePortRange } from './main.js';

describe('mirror controller command line', () => {
  it.each([
    ['20000-29999', { first: 20000, last: 29999 }],
    ['4000-4000', { first: 4000, last: 4000 }],
  ])('parses %s', (text, range) => expect(parsePortRange(text)).toEqual(range));

  it.each(['', '20000', '2-1', '0-10', '1-70000', 'a-b'])('rejects %j', (text) =>
    expect(() => parsePortRange(text)).toThrow(),
  );

  it('reads the documented flags', () => {
    const cmd = buildCommand().exitOverride();
    cmd.parse(
      [
        '--cluster',
        'east',
        '--gateway-admin',
        'http://127.0.1.1:4191',
        '--gateway-endpoints',
        '127.0.1.1',
        '--no-leader-elect',
      ],
      { from: 'user' },
    );
    expect(cmd.opts()).toMatchObject({
      cluster: 'east',
      gatewayAdmin: 'http://127.0.1.1:4191',
      gatewayEndpoints: '127.0.1.1',
      egressPorts: { first: 20000, last: 29999 },
      leaderElect: false,
      logLevel: 'info',
    });
  });
});
