import { describe, expect, it } from 'vitest';
import { sandboxHosts } from './sandbox.js';

describe('sandboxHosts', () => {
  it('puts each cluster on its own /24, from 127.0.1.1 by default', () => {
    expect(sandboxHosts(3)).toEqual(['127.0.1.1', '127.0.2.1', '127.0.3.1']);
  });

  it('starts at --host, which is the first cluster’s address, not every cluster’s', () => {
    expect(sandboxHosts(3, '127.0.150.1')).toEqual(['127.0.150.1', '127.0.151.1', '127.0.152.1']);
  });

  it('takes any address for one cluster, and refuses what it cannot spread', () => {
    expect(sandboxHosts(1, 'localhost')).toEqual(['localhost']);
    expect(() => sandboxHosts(2, '::1')).toThrow(/give an IPv4 address for 2 clusters/);
    expect(() => sandboxHosts(3, '127.0.254.1')).toThrow(/3 clusters do not fit/);
  });
});
