import { describe, expect, it } from 'vitest';
import { PortAllocator } from './port-allocator.js';

describe('PortAllocator', () => {
  it('allocates unique ports and keeps them across calls', () => {
    const a = new PortAllocator({ first: 20000, last: 20009 });
    const one = a.allocate('default/a-west', ['http', 'grpc']);
    const two = a.allocate('default/b-west', ['http']);
    expect([...one.values(), ...two.values()]).toEqual([20000, 20001, 20002]);
    expect(a.allocate('default/a-west', ['http', 'grpc'])).toEqual(one);
  });

  it('recovers ports from existing mirrors before allocating new ones', () => {
    const a = new PortAllocator({ first: 20000, last: 20009 });
    expect(a.recover('default/a-west', new Map([['http', 20000]]))).toEqual([]);
    expect(a.allocate('default/b-west', ['http']).get('http')).toBe(20001);
    expect(a.allocate('default/a-west', ['http']).get('http')).toBe(20000);
  });

  it('refuses to recover a port held by another owner or outside the range', () => {
    const a = new PortAllocator({ first: 20000, last: 20009 });
    a.recover('default/a-west', new Map([['http', 20005]]));
    expect(
      a.recover(
        'default/b-west',
        new Map([
          ['http', 20005],
          ['x', 30000],
        ]),
      ),
    ).toEqual(['http', 'x']);
  });

  it('frees on delete and frees ports of removed keys', () => {
    const a = new PortAllocator({ first: 20000, last: 20001 });
    a.allocate('default/a-west', ['http', 'grpc']);
    expect(a.allocate('default/b-west', ['http']).size).toBe(0);
    a.allocate('default/a-west', ['http']);
    expect(a.allocate('default/b-west', ['http']).get('http')).toBe(20001);
    a.free('default/a-west');
    expect(a.size).toBe(1);
    expect(a.allocate('default/c-west', ['http']).get('http')).toBe(20000);
  });

  it('returns a partial map when the range is exhausted', () => {
    const a = new PortAllocator({ first: 20000, last: 20000 });
    const got = a.allocate('default/a-west', ['http', 'grpc']);
    expect(got).toEqual(new Map([['http', 20000]]));
  });

  it("never hands out or recovers the gateway's own ingress and admin ports", () => {
    const a = new PortAllocator({ first: 4142, last: 4192 });
    const ports = [
      ...a
        .allocate(
          'default/a-west',
          Array.from({ length: 49 }, (_, i) => `p${i}`),
        )
        .values(),
    ];
    expect(ports).toHaveLength(49);
    expect(ports).not.toContain(4143);
    expect(ports).not.toContain(4191);
    expect(a.allocate('default/b-west', ['http']).size).toBe(0); // 51 ports, 2 reserved: all taken
    expect(
      new PortAllocator({ first: 4100, last: 4200 }).recover('default/c-west', new Map([['http', 4143]])),
    ).toEqual(['http']);
  });

  it('rejects an inverted range', () => {
    expect(() => new PortAllocator({ first: 2, last: 1 })).toThrow(RangeError);
  });
});
