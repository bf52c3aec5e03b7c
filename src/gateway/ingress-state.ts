/**
 * What one ingress keeps between its connections, sessions and streams: its limits, the counts of
 * tunnels and handshakes with their episodes at a limit, and what it knows of each session (the
 * peer's chain, how to mark it draining). Created once per ingress (startIngress) and handed to the
 * modules that handle handshakes (ingress-handshakes.ts), sessions (ingress-admission.ts,
 * ingress-session-guards.ts) and CONNECT streams (ingress-connect.ts).
 */

import type { X509Certificate } from 'node:crypto';
import type { ServerHttp2Session } from 'node:http2';
import type net from 'node:net';
import { ConnectionCounter } from './balancer.js';
import { parseAnchors } from './certificate-expiry.js';
import type { IngressOptions } from './ingress-options.js';
import type { PeerSocket } from './ingress-peer.js';
import { DEFAULT_MAX_SESSIONS, DEFAULT_MAX_SESSIONS_PER_PEER, type SessionCaps } from './session-caps.js';
import { DEFAULT_INGRESS_STREAM_WINDOW_BYTES } from './tunnel-settings.js';
import { PeerTunnels } from './tunnel-share.js';

const DEFAULTS = {
  handshakeTimeoutMs: 10_000,
  maxHandshakes: 1000,
  maxConcurrentStreams: 1000,
  maxSessionsPerPeer: DEFAULT_MAX_SESSIONS_PER_PEER,
  maxSessions: DEFAULT_MAX_SESSIONS,
  maxHeaderListSize: 16 * 1024,
  connectTimeoutMs: 5_000,
  streamWindowBytes: DEFAULT_INGRESS_STREAM_WINDOW_BYTES,
};

function ingressLimits(opts: IngressOptions) {
  return { ...DEFAULTS, ...opts.limits };
}

/** `limits` with the defaults filled in. */
export type IngressLimits = ReturnType<typeof ingressLimits>;

/** The peer's certificate and the issuer it sent with it, as read at the handshake. */
export interface PeerChain {
  cert?: X509Certificate;
  issuer?: X509Certificate;
}

export class IngressState {
  readonly limits: IngressLimits;
  readonly prefaceTimeoutMs: number;
  readonly maxTunnels: number;
  // An episode at the limit ends once the tunnels are down to 90 % of it, so a flood that keeps the
  // gateway at its limit is told of once, not at every tunnel that ends.
  readonly resumeAt: number;
  readonly counter = new ConnectionCounter();
  readonly sockets = new Set<net.Socket>();
  /** Accepted TCP connections whose TLS handshake has not finished: what `maxHandshakes` bounds. */
  readonly handshaking = new Set<net.Socket>();
  /** Connections closed on arrival at `maxHandshakes`: their hang-up is no client's. */
  readonly cutAtLimit = new WeakSet<PeerSocket>();
  readonly handshakesResumeAt: number;
  /** Connections closed at maxHandshakes in the current episode, or -1 outside one. */
  refusedHandshakes = -1;
  readonly sessions = new Set<ServerHttp2Session>();
  /** Marks an admitted session draining (GOAWAY sent or received): the per-peer cap stops counting it. */
  readonly drainingOf = new WeakMap<ServerHttp2Session, () => void>();
  /** Sessions and tunnels per peer cluster: the session caps and the tunnels' fair share. */
  readonly peers: PeerTunnels;
  readonly sessionCaps: SessionCaps;
  tunnels = 0;
  /** CONNECTs admitted under maxTunnels and still dialling their backend. */
  dialling = 0;
  /** CONNECTs refused at maxTunnels in the current episode, or -1 outside one. */
  refusedAtLimit = -1;
  closing = false;
  /** The trust bundle, parsed: the peer's chain stops below it (see expireWithCertificate). */
  anchors: X509Certificate[];
  // The peer's chain as it sent it (the issuer: the certificate after the leaf, which the revocation
  // check believes only if it could have verified the leaf), read at the handshake: OpenSSL keeps
  // the issuer only until then.
  readonly chains = new WeakMap<ServerHttp2Session, PeerChain>();
  /** Sessions whose end for misconduct was published: once per session. */
  readonly endedSessions = new WeakSet<ServerHttp2Session>();

  constructor(readonly opts: IngressOptions) {
    const limits = ingressLimits(opts);
    this.limits = limits;
    this.prefaceTimeoutMs = limits.prefaceTimeoutMs ?? limits.handshakeTimeoutMs;
    this.maxTunnels = limits.maxTunnels ?? Number.POSITIVE_INFINITY;
    this.resumeAt = Math.floor(this.maxTunnels * 0.9);
    this.handshakesResumeAt = Math.floor(limits.maxHandshakes * 0.9);
    this.peers = new PeerTunnels(this.maxTunnels, opts.admittedPeers);
    this.sessionCaps = { perPeer: limits.maxSessionsPerPeer, total: limits.maxSessions };
    this.anchors = parseAnchors(opts.secureContext.ca);
  }

  /** GOAWAY and close once the streams end, no longer counted against the peer's session cap. */
  drain(session: ServerHttp2Session): void {
    this.drainingOf.get(session)?.();
    session.close();
  }
}
