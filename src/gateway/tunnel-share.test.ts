/** The fair share of --max-tunnels among peer clusters: the rule as a table, then the bookkeeping. */
import { describe, expect, it } from 'vitest';
import { guaranteeOf, PeerTunnels, shareOf, tunnelAdmission } from './tunnel-share.js';

describe('tunnelAdmission', () => {
  it.each([
    // held, total, max, share, others' headroom → decision
    ['under its share, room left', 3, 10, 50, 25, 2, 'admit'],
    ['under its share: may take the last slot', 24, 49, 50, 25, 2, 'admit'],
    ['the gateway full', 10, 50, 50, 25, 0, 'full'],
    ['full even under its share (borrowers came first: no eviction)', 0, 50, 50, 25, 2, 'full'],
    ['over its share, borrowing what is not the others’ headroom', 40, 45, 50, 25, 2, 'admit'],
    ['over its share, what is left is the others’ headroom', 48, 48, 50, 25, 2, 'over_share'],
    ['alone: its share is the whole gateway', 49, 49, 50, 50, 0, 'admit'],
  ] as const)('%s', (_what, held, total, max, share, othersHeadroom, expected) => {
    expect(tunnelAdmission({ held, total, max, share, othersHeadroom })).toBe(expected);
  });

  it.each([
    // max, sharers → share, headroom kept for each other sharer
    [10_000, 1, 10_000, 500],
    [10_000, 2, 5_000, 500],
    [10_000, 10, 1_000, 55],
    [10_000, 20, 500, 26],
    [50, 2, 25, 2],
    [10, 2, 5, 1],
    [10, 30, 1, 1],
  ] as const)('max %i among %i sharers: share %i, headroom %i', (max, sharers, share, guarantee) => {
    expect(shareOf(max, sharers)).toBe(share);
    expect(guaranteeOf(max, sharers)).toBe(guarantee);
  });
});

/** How many tunnels `cluster` gets, asking until refused. */
function fill(peers: PeerTunnels, cluster: string): number {
  let n = 0;
  while (peers.admit(cluster) === 'admit') n++;
  return n;
}

const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `c${i}`);

describe('PeerTunnels', () => {
  it.each([
    [2, 9_500],
    [10, 9_505],
    [20, 9_506],
  ])(
    'one busy peer among %i linked clusters, the others idle, takes ~95 %% (%i) of max',
    (linked, expected) => {
      const peers = new PeerTunnels(10_000, () => names(linked));
      peers.sessionOpened('c0');
      expect(fill(peers, 'c0')).toBe(expected);
      // Each idle linked cluster still finds its headroom free.
      expect(peers.admit('c1')).toBe('admit');
    },
  );

  it.each([
    [100, 200],
    [100, 40],
    [1_000, 100],
  ])(
    'with more sharers than 5 %% of max (max %i, %i admitted) the headroom in all stays ~5 %%',
    (max, linked) => {
      const peers = new PeerTunnels(max, () => names(linked));
      peers.sessionOpened('c0');
      expect(fill(peers, 'c0')).toBe(max - Math.ceil(max * 0.05));
    },
  );

  it('a peer present with a session and no tunnel does not cap a busy one at max / 2', () => {
    const peers = new PeerTunnels(10_000, () => ['east', 'north']);
    peers.sessionOpened('east');
    peers.sessionOpened('north');
    expect(fill(peers, 'east')).toBe(9_500);
  });

  it('a flood leaves the other peer its headroom, and the other peer converges to its share', () => {
    const peers = new PeerTunnels(50, () => ['east', 'north']);
    peers.sessionOpened('north');
    peers.sessionOpened('east');
    expect(fill(peers, 'east')).toBe(48);
    expect(fill(peers, 'north')).toBe(2);
    // As east's tunnels end, north (under its share) takes the slots; east, over its share, none.
    for (let i = 0; i < 23; i++) {
      peers.release('east');
      expect(peers.admit('east')).toBe('over_share');
      expect(peers.admit('north')).toBe('admit');
    }
    expect(peers.admit('north')).toBe('full');
    expect(peers.total()).toBe(50);
  });

  it('counts the union of present and admitted clusters once, and gives a share back when a peer goes', () => {
    const admitted = { names: ['east', 'north'] };
    const peers = new PeerTunnels(10, () => admitted.names);
    peers.sessionOpened('east');
    peers.sessionOpened('west'); // present (e.g. --allow-cluster dropped since) but not admitted now
    expect(peers.share()).toBe(3); // east, north, west
    peers.sessionClosed('west', false);
    expect(peers.share()).toBe(5);
    admitted.names = ['east'];
    peers.reshare();
    expect(peers.share()).toBe(10);
    expect(fill(peers, 'east')).toBe(10);
  });

  it('counts only sessions not draining for the per-peer cap', () => {
    const peers = new PeerTunnels(10);
    peers.sessionOpened('east');
    peers.sessionOpened('east');
    peers.sessionDraining('east');
    expect(peers.sessionsOf('east')).toEqual({ active: 1, all: 2 });
    peers.sessionClosed('east', true);
    expect(peers.sessionsOf('east')).toEqual({ active: 1, all: 1 });
    peers.sessionClosed('east', false);
    expect(peers.sessionsOf('east')).toEqual({ active: 0, all: 0 });
  });

  it('unlimited admits all', () => {
    const unlimited = new PeerTunnels(Number.POSITIVE_INFINITY, () => ['east', 'north']);
    for (let i = 0; i < 1000; i++) expect(unlimited.admit('east')).toBe('admit');
  });
});
