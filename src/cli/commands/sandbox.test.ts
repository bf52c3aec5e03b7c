import { describe, expect, it } from 'vitest';
import { sandboxHosts } from './sandbox.js';

describe('sandboxHosts', () => {
  it('puts each cluster on its own /24 by default, from 127.0.1.1', () => {
    expect(sandboxHosts(3)).toEqual(['127.0.1.1', '127.0.2.1', '127.0.3.1']);
  });

  it('puts every cluster on --host without --port, each on a free port (a machine with 127.0.0.1 only)', () => {
    expect(sandboxHosts(2, '127.0.0.1')).toEqual(['127.0.0.1', '127.0.0.1']);
    expect(sandboxHosts(2, 'localhost')).toEqual(['localhost', 'localhost']);
  });

  it('with --port, starts at --host and gives each next cluster the next /24 (one port, so one address each)', () => {
    expect(sandboxHosts(3, '127.0.150.1', true)).toEqual(['127.0.150.1', '127.0.151.1', '127.0.152.1']);
    expect(sandboxHosts(1, 'localhost', true)).toEqual(['localhost']);
    expect(() => sandboxHosts(2, '::1', true)).toThrow(
      /give an IPv4 address for 2 clusters .* or leave out --port/,
    );
    expect(() => sandboxHosts(3, '127.0.254.1', true)).toThrow(/3 clusters do not fit/);
  });
});
