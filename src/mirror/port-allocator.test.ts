import { describe, expect, it } from 'vitest';
import { mirrorOwner, ownerService, PortAllocator, parseOwner } from './port-allocator.js';

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

  it('takes nothing when the range cannot hold every new key: the ports stay free for a Service that fits', () => {
    const a = new PortAllocator({ first: 20000, last: 20001 });
    expect(a.allocate('default/big-west', ['a', 'b', 'c'])).toEqual(new Map());
    expect(a.size).toBe(0);
    expect(a.allocate('default/small-west', ['http'])).toEqual(new Map([['http', 20000]]));
  });

  it('a mirrored Service whose new port does not fit keeps the ports it has, unchanged', () => {
    const a = new PortAllocator({ first: 20000, last: 20001 });
    a.allocate('default/a-west', ['http']);
    a.allocate('default/b-west', ['http']);
    // grpc added and http renamed to web: neither fits, so http keeps its port (the mirror still has it).
    expect(a.allocate('default/a-west', ['web', 'grpc'])).toEqual(new Map([['http', 20000]]));
    expect(a.owned('default/b-west')).toEqual(new Map([['http', 20001]]));
    // A key swapped for another in a full range fits: the dropped key's port is reused.
    expect(a.allocate('default/a-west', ['web'])).toEqual(new Map([['web', 20000]]));
    expect(a.size).toBe(2);
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

  it("never hands out a port a foreign Service claims, until that Service's claim is released", () => {
    const a = new PortAllocator({ first: 20000, last: 20009 });
    a.allocate('default/a-west', ['http']); // 20000
    expect(a.reserveForeign('tenant/forged', [20001, 20003])).toBe(true);
    expect(a.reserveForeign('tenant/forged', [20001, 20003])).toBe(false); // already reserved
    expect(a.reservedPorts()).toEqual([20001, 20003]);
    expect([...a.allocate('default/b-west', ['http', 'grpc', 'admin']).values()]).toEqual([
      20002, 20004, 20005,
    ]);
    a.releaseForeign('tenant/forged');
    expect(a.reservedPorts()).toEqual([]);
    // Round-robin: the cursor moves on, then wraps to the released ports.
    expect(a.allocate('default/c-west', ['a', 'b', 'c', 'd', 'e', 'f']).get('f')).toBe(20003);
  });

  it('counts reserved ports as taken: a mirror that fits only with them takes nothing', () => {
    const a = new PortAllocator({ first: 20000, last: 20002 });
    a.reserveForeign('tenant/forged', [20000, 20001]);
    expect(a.allocate('default/big-west', ['http', 'grpc'])).toEqual(new Map());
    expect(a.allocate('default/small-west', ['http'])).toEqual(new Map([['http', 20002]]));
    // A dropped key's port that a foreign Service claims does not make room for a new key.
    a.reserveForeign('tenant/forged', [20000, 20001, 20002]);
    expect(a.allocate('default/small-west', ['web'])).toEqual(new Map([['http', 20002]]));
  });

  it("a Service's own claim does not hold its ports back from it", () => {
    const a = new PortAllocator({ first: 20000, last: 20000 });
    a.reserveForeign('default/a-west', [20000]); // seen before it was ours (adopted)
    expect(a.allocate('default/a-west', ['http'])).toEqual(new Map([['http', 20000]]));
  });

  it("a Service's own claim does not hold its ports back from its mirror owner, of any cluster; another name's it does", () => {
    const a = new PortAllocator({ first: 20000, last: 20000 });
    a.reserveForeign('default/a-west', [20000]); // a claim seen before the Service was a mirror of ours
    expect(a.allocate(mirrorOwner('west', 'default', 'b-west'), ['http'])).toEqual(new Map());
    expect(a.allocate(mirrorOwner('west', 'default', 'a-west'), ['http'])).toEqual(
      new Map([['http', 20000]]),
    );
  });

  it("two clusters' mirrors of one name hold ports of their own: one's allocation or release never touches the other's", () => {
    const a = new PortAllocator({ first: 20000, last: 20009 });
    // `api` of us-west and `api-us` of west are both mirrored as default/api-us-west.
    const usWest = mirrorOwner('us-west', 'default', 'api-us-west');
    const west = mirrorOwner('west', 'default', 'api-us-west');
    expect(a.allocate(usWest, ['http'])).toEqual(new Map([['http', 20000]]));
    // West's sync, not seeing us-west's mirror yet, allocates other port keys at the same name.
    expect(a.allocate(west, ['grpc'])).toEqual(new Map([['grpc', 20001]]));
    expect(a.owned(usWest)).toEqual(new Map([['http', 20000]]));
    expect(a.ownerOf(20000)).toBe(usWest);
    // It met us-west's mirror: its own ports go back, us-west's stay.
    a.free(west);
    expect(a.owned(usWest)).toEqual(new Map([['http', 20000]]));
    expect(a.allocate(usWest, ['http'])).toEqual(new Map([['http', 20000]]));
    expect(a.ownerOf(20001)).toBeUndefined();
  });

  it('names owners: a mirror owner with its cluster, a foreign claim by its Service alone', () => {
    const owner = mirrorOwner('us-west', 'default', 'api-us-west');
    expect(owner).toBe('us-west/default/api-us-west');
    expect(parseOwner(owner)).toEqual({ cluster: 'us-west', namespace: 'default', name: 'api-us-west' });
    expect(ownerService(owner)).toBe('default/api-us-west');
    expect(parseOwner('tenant/forged')).toEqual({ namespace: 'tenant', name: 'forged' });
    expect(ownerService('tenant/forged')).toBe('tenant/forged');
    // The one Service `default/api-us-west` is never a mirror owner at that name (two parts, not three).
    expect(owner).not.toBe(ownerService(owner));
  });

  it('recovers no port an older foreign claim holds', () => {
    const a = new PortAllocator({ first: 20000, last: 20009 });
    a.reserveForeign('tenant/forged', [20000]);
    expect(a.recover('default/a-west', new Map([['http', 20000]]))).toEqual(['http']);
    a.clear();
    expect(a.reservedPorts()).toEqual([]);
    expect(a.recover('default/a-west', new Map([['http', 20000]]))).toEqual([]);
  });

  it("gives a new key the port its mirror already names when that port is free: a mirror whose key lost its ports (recovered as another's claim) is not re-numbered", () => {
    const a = new PortAllocator({ first: 20000, last: 20009 });
    const owner = mirrorOwner('west', 'default', 'b-west');
    // 20000 is free and next in the cursor's order; b-west's Service names 20001.
    expect(a.allocate(owner, ['http'], new Map([['http', 20001]]))).toEqual(new Map([['http', 20001]]));
    // A key that holds a port keeps it, whatever is preferred.
    expect(a.allocate(owner, ['http'], new Map([['http', 20005]]))).toEqual(new Map([['http', 20001]]));
    // The cursor did not move: the next new key still gets the first free port.
    expect(a.allocate(mirrorOwner('west', 'default', 'c-west'), ['http'])).toEqual(
      new Map([['http', 20000]]),
    );
  });

  it('a preferred port held by another owner, reserved for another Service, outside the range or taken by another key is not taken: the next free one is', () => {
    const a = new PortAllocator({ first: 20000, last: 20009 });
    a.allocate(mirrorOwner('west', 'default', 'a-west'), ['http']); // 20000
    a.reserveForeign('tenant/forged', [20003]);
    const owner = mirrorOwner('west', 'default', 'b-west');
    const preferred = new Map([
      ['held', 20000],
      ['claimed', 20003],
      ['outside', 30000],
      ['web', 20007],
      ['twice', 20007],
    ]);
    expect(a.allocate(owner, ['held', 'claimed', 'outside', 'web', 'twice'], preferred)).toEqual(
      new Map([
        ['held', 20001],
        ['claimed', 20002],
        ['outside', 20004],
        ['web', 20007],
        ['twice', 20005],
      ]),
    );
    // Its own Service's claim (seen before it was ours) does not hold it back.
    const c = mirrorOwner('west', 'default', 'c-west');
    a.reserveForeign('default/c-west', [20008]);
    expect(a.allocate(c, ['http'], new Map([['http', 20008]]))).toEqual(new Map([['http', 20008]]));
  });

  it('a preferred port counts like any other: all or nothing when the range cannot hold every new key', () => {
    const a = new PortAllocator({ first: 20000, last: 20001 });
    a.allocate('default/a-west', ['http']); // 20000
    expect(a.allocate('default/b-west', ['http', 'grpc'], new Map([['http', 20001]]))).toEqual(new Map());
    expect(a.ownerOf(20001)).toBeUndefined();
  });

  it('rejects an inverted range', () => {
    expect(() => new PortAllocator({ first: 2, last: 1 })).toThrow(RangeError);
  });
});
