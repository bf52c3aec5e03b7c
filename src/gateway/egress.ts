/**
 * The egress: one plain TCP listener per mirror port. Each accepted connection becomes one CONNECT
 * stream on a pooled session to the mirror's remote gateway (shared/DESIGN.md, "The tunnel"), so a
 * new client connection costs a stream, never a TLS handshake. If the tunnel cannot be opened the
 * client is reset at once rather than left hanging. `apply()` follows the mirrors live.
 */
import { constants as h2 } from 'node:http2';
import net from 'node:net';
import { IsthmusError } from '../errors.js';
import { hostPort, unmapped } from '../host-port.js';
import { publishConnectError, publishTunnelClose, publishTunnelOpen } from './diagnostics.js';
import { cutSockets, socketsClosed } from './drain.js';
import { splice } from './pipe.js';
import type { SessionPool } from './session-pool.js';
import { LISTEN_BACKLOG } from './tunnel-settings.js';

export interface EgressRoute {
  port: number;
  remote: { host: string; port: number };
  authority: string;
  /** `namespace/name` of the mirror Service. */
  mirror: string;
  /**
   * The cluster the mirror comes from (`mirror.linkerd.io/cluster-name`): the remote gateway must
   * hold that cluster's gateway identity, and it labels the tunnel's metrics.
   */
  cluster: string;
}

interface Listener {
  server: net.Server;
  /** Replaced in place when the mirror changes: new connections use the new route. */
  route: EgressRoute;
  sockets: Set<net.Socket>;
}

const noop = (): void => {};

export class EgressListeners {
  private readonly listeners = new Map<number, Listener>();
  /** Ports of the last apply that could not be listened on, with the route and the error. */
  private readonly failed = new Map<number, { mirror: string; reason: string }>();
  /** Removed listeners whose connections are still draining. */
  private readonly draining = new Set<Listener>();
  private queue: Promise<void> = Promise.resolve();
  private tunnels = 0;
  /** After close(): apply() opens nothing any more (a mirror change during a shutdown's drain). */
  private closed = false;

  constructor(
    private readonly opts: {
      host: string;
      pool: Pick<SessionPool, 'tunnel'>;
      /**
       * Put each client's address in the tunnel-close message (the access log prints it). Off by
       * default: reading it is a getpeername(2) per connection, ~3 % of the egress's CPU under
       * connection churn, and nothing else uses it.
       */
      clientAddresses?: boolean;
    },
  ) {}

  /**
   * Makes the listeners match `routes` (keyed by port): opens new ones, closes removed ones (their
   * connections finish), updates changed ones in place. Calls are serialised. Rejects with
   * EGRESS_LISTEN_FAILED naming the ports that could not be opened; the others are applied.
   */
  apply(routes: EgressRoute[]): Promise<void> {
    const run = this.queue.then(() => this.applyNow(routes));
    this.queue = run.catch(noop);
    return run;
  }

  /** The route of each listening port, by port: what `/routes` on the admin port shows. */
  routes(): EgressRoute[] {
    return [...this.listeners.values()].map((l) => l.route).sort((a, b) => a.port - b.port);
  }

  /** The ports the last apply could not listen on (another process holds one, say), by port. */
  listenFailures(): Array<{ port: number; mirror: string; reason: string }> {
    return [...this.failed].map(([port, f]) => ({ port, ...f })).sort((a, b) => a.port - b.port);
  }

  /** Ports currently listening. */
  listening(): number[] {
    return [...this.listeners.keys()].sort((a, b) => a - b);
  }

  /** Whether `port` is one of the egress listeners (the ingress never dials them: self-dial.ts). */
  listens(port: number): boolean {
    return this.listeners.has(port);
  }

  /** Tunnels currently piping bytes. */
  openTunnels(): number {
    return this.tunnels;
  }

  /** Client connections currently accepted (tunnelled or waiting for their tunnel). */
  connections(): number {
    let n = 0;
    for (const l of [...this.listeners.values(), ...this.draining]) n += l.sockets.size;
    return n;
  }

  /**
   * Stops accepting on every port; open connections get up to `graceMs` (default 0) to finish,
   * then the rest are cut. Resolves with the number cut.
   */
  async close(graceMs = 0): Promise<number> {
    this.closed = true;
    await this.queue;
    const all = [...this.listeners.values(), ...this.draining];
    this.listeners.clear();
    // Kept in `draining` until their connections are gone, so connections() stays true meanwhile.
    for (const l of all) this.draining.add(l);
    const closed = Promise.all(all.map((l) => closeListener(l).then(() => this.draining.delete(l))));
    const groups = all.map((l) => l.sockets);
    await socketsClosed(groups, graceMs);
    const cut = cutSockets(groups);
    await closed;
    return cut;
  }

  private async applyNow(routes: EgressRoute[]): Promise<void> {
    if (this.closed) return;
    const wanted = new Map<number, EgressRoute>();
    for (const r of routes) wanted.set(r.port, r);
    for (const [port, listener] of this.listeners) {
      if (wanted.has(port)) continue;
      this.listeners.delete(port);
      this.draining.add(listener);
      void closeListener(listener).then(() => this.draining.delete(listener));
    }
    for (const port of this.failed.keys()) if (!wanted.has(port)) this.failed.delete(port);
    // Only new ports wait for a listen: a pass over thousands of unchanged routes stays synchronous.
    const opening: EgressRoute[] = [];
    for (const route of wanted.values()) {
      const existing = this.listeners.get(route.port);
      if (existing) existing.route = route;
      else opening.push(route);
    }
    await Promise.all(
      opening.map(async (route) => {
        try {
          this.listeners.set(route.port, await this.listen(route));
          this.failed.delete(route.port);
        } catch (err) {
          this.failed.set(route.port, { mirror: route.mirror, reason: (err as Error).message });
        }
      }),
    );
    const failures = opening.filter((r) => this.failed.has(r.port));
    if (failures.length > 0) {
      const text = failures.map((r) => `${r.port} (${r.mirror}): ${this.failed.get(r.port)?.reason}`);
      throw new IsthmusError('EGRESS_LISTEN_FAILED', `cannot listen on ${text.join('; ')}`);
    }
  }

  private listen(route: EgressRoute): Promise<Listener> {
    // allowHalfOpen: a client's FIN travels as END_STREAM while the answer keeps flowing back.
    const server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: false });
    const listener: Listener = { server, route, sockets: new Set() };
    server.on('connection', (socket) => this.accept(listener, socket));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.opts.host, port: route.port, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', reject);
        server.on('error', noop);
        resolve(listener);
      });
    });
  }

  private accept(listener: Listener, socket: net.Socket): void {
    const accepted = performance.now();
    const { route } = listener;
    listener.sockets.add(socket);
    socket.once('close', () => listener.sockets.delete(socket));
    socket.on('error', noop);
    this.opts.pool.tunnel(
      route.remote,
      route.authority,
      (err, stream) => {
        if (err) {
          const status = err.code === 'TUNNEL_REFUSED' ? statusOf(err) : 0;
          publishConnectError({
            direction: 'egress',
            peerCluster: route.cluster,
            authority: route.authority,
            status,
            reason: err.message,
            code: err.code,
          });
          // Fail fast: the client sees a reset now rather than a hang or an empty answer.
          if (!socket.destroyed) socket.resetAndDestroy();
          return;
        }
        if (socket.destroyed) {
          stream!.close(h2.NGHTTP2_CANCEL);
          return;
        }
        this.tunnels++;
        const peer = route.cluster;
        const opened = performance.now();
        publishTunnelOpen('egress', peer, route.authority, opened - accepted, socket);
        // Read now: once the socket is closed its peer address is gone.
        const client = this.opts.clientAddresses ? clientAddress(socket) : undefined;
        splice(stream!, socket, (result) => {
          this.tunnels--;
          publishTunnelClose({
            direction: 'egress',
            peerCluster: peer,
            authority: route.authority,
            socket,
            ...(client === undefined ? {} : { endpoint: client }),
            durationMs: performance.now() - opened,
            ...result,
          });
        });
      },
      route.cluster,
    );
  }
}

function statusOf(err: IsthmusError): number {
  const cause = err.cause as { status?: unknown } | undefined;
  return typeof cause?.status === 'number' ? cause.status : 0;
}

/** Stops accepting; resolves once its connections have finished (net.Server.close waits for them). */
function closeListener(listener: Listener): Promise<void> {
  return new Promise((resolve) => listener.server.close(() => resolve()));
}

function clientAddress(socket: net.Socket): string {
  return hostPort(unmapped(socket.remoteAddress ?? ''), socket.remotePort ?? 0);
}
