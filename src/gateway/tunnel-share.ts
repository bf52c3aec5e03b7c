/**
 * A fair share of the ingress's tunnels (--max-tunnels) among peer clusters (security review: one
 * pod in any linked cluster opening connections to its own egress took every tunnel of the
 * exporting gateway, and every other cluster got 503).
 *
 * The rule is work-conserving: a busy peer may use all the free capacity but a small headroom kept
 * for each other sharer still under its share. The sharers are the peer clusters present (holding a
 * session or a tunnel) ∪ the admitted clusters not yet connected; each one's share is max ÷ sharers.
 * A peer under its share is admitted while the gateway is below max. A peer at or over its share
 * (a borrower) is admitted only while the free slots exceed the headroom of the others: for each
 * other sharer under its share, min(headroom, share − held). The headrooms together are at most
 * ~5 % of max, so one busy peer reaches ~95 % of max when the others are idle, and a newcomer
 * always finds its headroom free. Nothing is evicted: as a borrower's tunnels end, a peer under its
 * share takes the slots (the borrower gets none while they are someone's headroom), so under
 * contention every peer converges to its share. Per CONNECT this is O(1); the reserve is recomputed
 * only when the sharers change.
 */

export type TunnelAdmission = 'admit' | 'full' | 'over_share';

export interface TunnelLoad {
  /** Tunnels the asking peer holds (open or dialling). */
  held: number;
  /** Tunnels all peers hold. */
  total: number;
  max: number;
  /** Each peer's share: max ÷ sharers. */
  share: number;
  /** The headroom kept free for the other sharers under their share (`headroomOf` summed). */
  othersHeadroom: number;
}

export function tunnelAdmission({ held, total, max, share, othersHeadroom }: TunnelLoad): TunnelAdmission {
  if (total >= max) return 'full';
  if (held < share) return 'admit';
  // At least a tunnel per other sharer, but never more than the fraction in all: with more sharers
  // than 5 % of max, a floor of one each would keep a busy cluster from all but a few (a review's
  // finding: max 100, 200 admitted clusters, one busy cluster got 1).
  return max - total > Math.min(othersHeadroom, Math.ceil(max * HEADROOM_FRACTION)) ? 'admit' : 'over_share';
}

/** The fraction of max kept, at most, as headroom for the peers a borrower shares with. */
const HEADROOM_FRACTION = 0.05;

/** Each peer's share of `max` among `sharers` (at least 1 tunnel). */
export function shareOf(max: number, sharers: number): number {
  return Math.max(1, Math.floor(max / Math.max(1, sharers)));
}

/**
 * The headroom a borrower leaves free for each other sharer: ~5 % of max split among the others
 * (at least one tunnel each), never more than a share. With 10,000 tunnels: 500 for the one other
 * of 2 sharers, 25 each among 20.
 */
export function guaranteeOf(max: number, sharers: number): number {
  const others = Math.max(1, sharers - 1);
  const headroom = Math.max(1, Math.floor((max * HEADROOM_FRACTION) / others));
  return Math.min(shareOf(max, sharers), headroom);
}

/** What a sharer holding `held` keeps free of a borrower: its headroom, up to its share. */
export function headroomOf(held: number, share: number, guarantee: number): number {
  return held < share ? Math.min(guarantee, share - held) : 0;
}

interface Peer {
  sessions: number;
  /** Of `sessions`, those not draining (no GOAWAY either way): what the per-peer cap counts. */
  activeSessions: number;
  tunnels: number;
}

/** The ingress's per-cluster counts of sessions and tunnels, and the share they make. */
export class PeerTunnels {
  private readonly peers = new Map<string, Peer>();
  private tunnels = 0;
  private currentShare: number;
  private guarantee: number;
  /** Σ over sharers (present or not) of headroomOf(held). */
  private headroom = 0;

  /**
   * `admitted`: the peer clusters that may connect (Link targets, --allow-cluster), each a sharer
   * even before it does. Re-read at reshare().
   */
  constructor(
    private readonly max: number,
    private readonly admitted: () => Iterable<string> = () => [],
  ) {
    this.currentShare = max;
    this.guarantee = max;
    this.reshare();
  }

  share(): number {
    return this.currentShare;
  }

  total(): number {
    return this.tunnels;
  }

  /** Sessions of `cluster`: not draining (what the per-peer session cap bounds), and in all. */
  sessionsOf(cluster: string): { active: number; all: number } {
    const peer = this.peers.get(cluster);
    return { active: peer?.activeSessions ?? 0, all: peer?.sessions ?? 0 };
  }

  sessionOpened(cluster: string): void {
    const peer = this.peerOf(cluster);
    peer.sessions++;
    peer.activeSessions++;
  }

  /** A session of `cluster` sent or received GOAWAY: it no longer counts against the per-peer cap. */
  sessionDraining(cluster: string): void {
    const peer = this.peers.get(cluster);
    if (peer && peer.activeSessions > 0) peer.activeSessions--;
  }

  /** `draining`: whether sessionDraining was called for it. */
  sessionClosed(cluster: string, draining: boolean): void {
    const peer = this.peers.get(cluster);
    if (!peer) return;
    peer.sessions--;
    if (!draining && peer.activeSessions > 0) peer.activeSessions--;
    this.forgetIfGone(cluster, peer);
  }

  /** Decides a CONNECT of `cluster`, and counts the tunnel when admitted. */
  admit(cluster: string): TunnelAdmission {
    const peer = this.peerOf(cluster);
    if (!Number.isFinite(this.max)) {
      this.hold(peer, 1);
      return 'admit';
    }
    const own = headroomOf(peer.tunnels, this.currentShare, this.guarantee);
    const decision = tunnelAdmission({
      held: peer.tunnels,
      total: this.tunnels,
      max: this.max,
      share: this.currentShare,
      othersHeadroom: this.headroom - own,
    });
    if (decision === 'admit') this.hold(peer, 1);
    else this.forgetIfGone(cluster, peer);
    return decision;
  }

  /** A tunnel of `cluster` admitted by `admit` ended (open or still dialling). */
  release(cluster: string): void {
    const peer = this.peers.get(cluster);
    if (!peer || peer.tunnels === 0) return;
    this.hold(peer, -1);
    this.forgetIfGone(cluster, peer);
  }

  private hold(peer: Peer, delta: number): void {
    const before = headroomOf(peer.tunnels, this.currentShare, this.guarantee);
    peer.tunnels += delta;
    this.tunnels += delta;
    this.headroom += headroomOf(peer.tunnels, this.currentShare, this.guarantee) - before;
  }

  private peerOf(cluster: string): Peer {
    let peer = this.peers.get(cluster);
    if (!peer) {
      peer = { sessions: 0, activeSessions: 0, tunnels: 0 };
      this.peers.set(cluster, peer);
      this.reshare();
    }
    return peer;
  }

  private forgetIfGone(cluster: string, peer: Peer): void {
    if (peer.sessions > 0 || peer.tunnels > 0) return;
    this.peers.delete(cluster);
    this.reshare();
  }

  /**
   * The sharers changed (a peer came or went, or the admitted clusters): a new share, guarantee and
   * headroom. O(peers + admitted clusters): not per CONNECT.
   */
  reshare(): void {
    let absent = 0;
    for (const cluster of new Set(this.admitted())) if (!this.peers.has(cluster)) absent++;
    const sharers = this.peers.size + absent;
    if (!Number.isFinite(this.max)) return;
    this.currentShare = shareOf(this.max, sharers);
    this.guarantee = guaranteeOf(this.max, sharers);
    this.headroom = absent * headroomOf(0, this.currentShare, this.guarantee);
    for (const peer of this.peers.values())
      this.headroom += headroomOf(peer.tunnels, this.currentShare, this.guarantee);
  }
}
