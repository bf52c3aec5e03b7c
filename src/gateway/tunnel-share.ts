/**
 * A fair share of the ingress's tunnels (--max-tunnels) among peer clusters (security review: one
 * pod in any linked cluster opening connections to its own egress took every tunnel of the
 * exporting gateway, and every other cluster got 503).
 *
 * The rule: each peer cluster present (holding a session or a tunnel) is guaranteed an equal share,
 * max ÷ peers. A peer under its share is admitted while the gateway is below max. A peer at or over
 * its share may borrow only what no other peer's guarantee still needs: it is admitted while the
 * free slots exceed the unused reserve (the sum over peers of their share not in use). Nothing is
 * evicted: a peer that arrives while others borrow gets its share as their tunnels end, and the
 * borrowers get no new tunnel until then. Per CONNECT this is O(1); the reserve is recomputed only
 * when the share changes (a peer cluster comes or goes).
 */

export type TunnelAdmission = 'admit' | 'full' | 'over_share';

export interface TunnelLoad {
  /** Tunnels the asking peer holds (open or dialling). */
  held: number;
  /** Tunnels all peers hold. */
  total: number;
  max: number;
  /** Each peer's guarantee. */
  share: number;
  /** Σ over peers of max(0, share − held): guarantees not in use. */
  unusedReserve: number;
}

export function tunnelAdmission({ held, total, max, share, unusedReserve }: TunnelLoad): TunnelAdmission {
  if (total >= max) return 'full';
  if (held < share) return 'admit';
  return max - total > unusedReserve ? 'admit' : 'over_share';
}

interface Peer {
  sessions: number;
  tunnels: number;
}

/** The ingress's per-cluster counts of sessions and tunnels, and the share they make. */
export class PeerTunnels {
  private readonly peers = new Map<string, Peer>();
  private tunnels = 0;
  private currentShare: number;
  private unusedReserve = 0;

  /** `linked`: how many peer clusters may connect, each guaranteed a share even before it does. */
  constructor(
    private readonly max: number,
    private readonly linked: () => number = () => 0,
  ) {
    this.currentShare = max;
  }

  share(): number {
    return this.currentShare;
  }

  total(): number {
    return this.tunnels;
  }

  /** Established sessions of `cluster` (what the session caps bound). */
  sessionsOf(cluster: string): number {
    return this.peers.get(cluster)?.sessions ?? 0;
  }

  sessionOpened(cluster: string): void {
    this.peerOf(cluster).sessions++;
  }

  sessionClosed(cluster: string): void {
    const peer = this.peers.get(cluster);
    if (!peer) return;
    peer.sessions--;
    this.forgetIfGone(cluster, peer);
  }

  /** Decides a CONNECT of `cluster`, and counts the tunnel when admitted. */
  admit(cluster: string): TunnelAdmission {
    const peer = this.peerOf(cluster);
    const decision = tunnelAdmission({
      held: peer.tunnels,
      total: this.tunnels,
      max: this.max,
      share: this.currentShare,
      unusedReserve: this.unusedReserve,
    });
    if (decision === 'admit') {
      if (peer.tunnels < this.currentShare) this.unusedReserve--;
      peer.tunnels++;
      this.tunnels++;
    } else this.forgetIfGone(cluster, peer);
    return decision;
  }

  /** A tunnel of `cluster` admitted by `admit` ended (open or still dialling). */
  release(cluster: string): void {
    const peer = this.peers.get(cluster);
    if (!peer || peer.tunnels === 0) return;
    peer.tunnels--;
    this.tunnels--;
    if (peer.tunnels < this.currentShare) this.unusedReserve++;
    this.forgetIfGone(cluster, peer);
  }

  private peerOf(cluster: string): Peer {
    let peer = this.peers.get(cluster);
    if (!peer) {
      peer = { sessions: 0, tunnels: 0 };
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
   * The peers (or the linked clusters) changed: a new share, and the reserve it leaves unused,
   * absent linked peers' whole shares included. O(peers): not per CONNECT.
   */
  reshare(): void {
    const sharers = Math.max(1, this.peers.size, this.linked());
    this.currentShare = Math.max(1, Math.floor(this.max / sharers));
    const absent = sharers - this.peers.size;
    this.unusedReserve = absent > 0 ? absent * this.currentShare : 0;
    for (const peer of this.peers.values())
      this.unusedReserve += Math.max(0, this.currentShare - peer.tunnels);
  }
}
