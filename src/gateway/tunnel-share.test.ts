/** The fair share of --max-tunnels among peer clusters: the rule as a table, then the bookkeeping. */
import { describe, expect, it } from 'vitest';
import { PeerTunnels, tunnelAdmission } from './tunnel-share.js';

describe('tunnelAdmission', () => {
  it.each([
    // held, total, max, share, unused reserve → decision
    ['under its share, room left', 3, 10, 50, 25, 40, 'admit'],
    ['under its share: its own reserve guarantees room', 24, 49, 50, 25, 1, 'admit'],
    ['the gateway full', 10, 50, 50, 25, 0, 'full'],
    ['full even under its share (borrowers came first: no eviction)', 0, 50, 50, 25, 25, 'full'],
    ['at its share, borrowing what no other peer reserves', 25, 30, 50, 25, 5, 'admit'],
    ['at its share, the rest reserved for others', 25, 30, 50, 25, 20, 'over_share'],
    ['over its share, one free slot, reserved for another peer', 49, 49, 50, 25, 1, 'over_share'],
    ['alone: its share is the whole gateway', 49, 49, 50, 50, 1, 'admit'],
  ] as const)('%s', (_what, held, total, max, share, unused, expected) => {
    expect(tunnelAdmission({ held, total, max, share, unusedReserve: unused })).toBe(expected);
  });
});

describe('PeerTunnels', () => {
  it('keeps the share and the unused reserve as peers come, open tunnels and go', () => {
    const peers = new PeerTunnels(10);
    peers.sessionOpened('east');
    expect(peers.share()).toBe(10);
    for (let i = 0; i < 10; i++) expect(peers.admit('east')).toBe('admit');
    expect(peers.admit('east')).toBe('full');
    peers.sessionOpened('north');
    expect(peers.share()).toBe(5);
    // east holds 10, over its new share of 5: north's 5 come free as east's tunnels end.
    expect(peers.admit('north')).toBe('full');
    peers.release('east');
    expect(peers.admit('east')).toBe('over_share');
    expect(peers.admit('north')).toBe('admit');
    for (let i = 0; i < 5; i++) peers.release('east');
    for (let i = 0; i < 4; i++) expect(peers.admit('north')).toBe('admit');
    expect(peers.admit('north')).toBe('over_share'); // 5 of 10, east's 5 reserved though it holds 4
    expect(peers.admit('east')).toBe('admit');
    expect(peers.total()).toBe(10);
    // A peer that leaves (no session, no tunnel) gives its share back.
    for (let i = 0; i < 3; i++) peers.release('north');
    peers.sessionClosed('north');
    expect(peers.share()).toBe(5); // north still holds tunnels: still a peer
    for (let i = 0; i < 2; i++) peers.release('north');
    expect(peers.share()).toBe(10);
    expect(peers.admit('east')).toBe('admit');
  });

  it('reserves the shares of linked peers not yet connected; unlimited admits all', () => {
    const linked = { count: 3 };
    const peers = new PeerTunnels(9, () => linked.count);
    peers.sessionOpened('east');
    for (let i = 0; i < 3; i++) expect(peers.admit('east')).toBe('admit');
    expect(peers.admit('east')).toBe('over_share');
    linked.count = 1;
    peers.reshare();
    expect(peers.admit('east')).toBe('admit');
    const unlimited = new PeerTunnels(Number.POSITIVE_INFINITY, () => 2);
    for (let i = 0; i < 1000; i++) expect(unlimited.admit('east')).toBe('admit');
  });
});
