/**
 * Test support: a TCP relay in front of an API server that a test can freeze, as an SRE froze one
 * with `kill -STOP`: connections stay open (new ones are accepted too, as the kernel's listen
 * backlog accepts them), but not a byte is forwarded either way until it is thawed, when everything
 * held goes on as if nothing happened. Not a closed or refused connection: a hung one.
 *
 * It can also black-hole the connections open now and only those (a NAT or conntrack entry dropped
 * on the way, a load balancer's idle timeout without a reset): their bytes are lost both ways for
 * good while new connections work, so the server answers everything but the dead connection.
 *
 * And it can cut the server off for those behind it, as the server going down would: every
 * connection reset, new ones reset as they come, until restored. The server itself stays up for
 * everyone else, so a test can change what it holds while its clients behind the relay cannot see.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

interface Pair {
  client: Side;
  upstream: Side | undefined;
  /** Black-holed: every byte either way is dropped, and no end is passed on. */
  dead?: boolean;
}

interface Side {
  socket: Socket;
  held: Buffer[];
  /** Closed while frozen: the other side learns it at the thaw. */
  closed?: boolean;
}

export class TcpRelay {
  private readonly server: Server;
  private frozen = false;
  private cutOff = false;
  private readonly pairs = new Set<Pair>();
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly target: { host: string; port: number }) {
    this.server = createServer((socket) => this.accept(socket));
  }

  /** A relay to `target` listening on a free loopback port. */
  static async start(target: URL): Promise<TcpRelay> {
    const relay = new TcpRelay({ host: target.hostname.replace(/^\[|\]$/g, ''), port: Number(target.port) });
    await new Promise<void>((resolve) => relay.server.listen(0, '127.0.0.1', resolve));
    return relay;
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  /** `url` with its host and port replaced by the relay's. */
  via(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString().replace(/\/$/, '');
  }

  freeze(): void {
    this.frozen = true;
  }

  /** Drops, from now on and both ways, every byte of the connections open now; new ones work. */
  blackholeOpen(): void {
    for (const pair of this.pairs) pair.dead = true;
  }

  /** Resets every connection open now, and each new one as it comes, until restore(). */
  cut(): void {
    this.cutOff = true;
    for (const pair of this.pairs) {
      this.pairs.delete(pair);
      pair.client.socket.resetAndDestroy();
      pair.upstream?.socket.destroy();
    }
  }

  /** Relays new connections again after cut(). */
  restore(): void {
    this.cutOff = false;
  }

  thaw(): void {
    this.frozen = false;
    for (const pair of this.pairs) {
      if (!pair.upstream) this.dial(pair);
      else this.flush(pair.client, pair.upstream);
    }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
  }

  private accept(socket: Socket): void {
    this.track(socket);
    if (this.cutOff) {
      socket.resetAndDestroy();
      return;
    }
    const pair: Pair = { client: { socket, held: [] }, upstream: undefined };
    this.pairs.add(pair);
    socket.on('close', () => {
      this.pairs.delete(pair);
      pair.upstream?.socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => {
      if (pair.dead) return;
      if (this.frozen || !pair.upstream) pair.client.held.push(chunk);
      else pair.upstream.socket.write(chunk);
    });
    if (!this.frozen) this.dial(pair);
  }

  private dial(pair: Pair): void {
    const upstream = tcpConnect(this.target.port, this.target.host);
    this.track(upstream);
    const side: Side = { socket: upstream, held: [] };
    pair.upstream = side;
    upstream.on('connect', () => this.flush(pair.client, side));
    upstream.on('data', (chunk: Buffer) => {
      if (pair.dead) return;
      if (this.frozen) side.held.push(chunk);
      else pair.client.socket.write(chunk);
    });
    upstream.on('close', () => {
      if (pair.dead) return;
      side.closed = true;
      if (!this.frozen) this.flush(pair.client, side);
    });
  }

  /** Forwards what each side sent while frozen. */
  private flush(client: Side, upstream: Side): void {
    if (this.frozen) return;
    for (const chunk of client.held.splice(0)) upstream.socket.write(chunk);
    for (const chunk of upstream.held.splice(0)) client.socket.write(chunk);
    if (upstream.closed) client.socket.end();
  }
}
