/** A TCP relay for tests that need to hold, release or freeze the bytes between two ends. */
import net from 'node:net';

export interface Relay {
  address: { host: string; port: number };
  /** Connections accepted so far. */
  accepted(): number;
  /** Client connections not yet closed. */
  open(): number;
  /** Starts moving the bytes of connections accepted while `held`. */
  release(): void;
  /** Stops bytes both ways without closing anything: a peer gone silent, no FIN. */
  freeze(): void;
  /**
   * freeze(), and holds new connections too until `release()`: a hung process (SIGSTOP) whose
   * kernel still accepts TCP, so a new TLS handshake hangs as well.
   */
  hang(): void;
  close(): Promise<void>;
}

/**
 * A relay on 127.0.0.1 to `port`. `held`: connections are accepted but nothing moves until
 * `release()`, so a TLS handshake through it hangs half-done for as long as the test needs.
 */
export async function startRelay(port: number, held = false): Promise<Relay> {
  const pairs: net.Socket[][] = [];
  /** Pairs whose bytes move: joining one twice would send every byte twice. */
  const joined = new Set<net.Socket[]>();
  let accepted = 0;
  const join = (pair: net.Socket[]): void => {
    if (joined.has(pair)) return;
    joined.add(pair);
    const [client, upstream] = pair;
    client!.pipe(upstream!).pipe(client!);
  };
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect(port, '127.0.0.1');
    client.on('error', () => {});
    upstream.on('error', () => {});
    const pair = [client, upstream];
    pairs.push(pair);
    if (!held) join(pair);
  });
  const freeze = (): void => {
    for (const [client, upstream] of pairs) {
      client!.unpipe();
      upstream!.unpipe();
    }
    joined.clear();
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port },
    accepted: () => accepted,
    open: () => pairs.filter(([client]) => !client!.destroyed && !client!.readableEnded).length,
    release: () => {
      held = false;
      for (const pair of pairs) join(pair);
    },
    freeze,
    hang: () => {
      held = true;
      freeze();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of pairs.flat()) s.destroy();
        server.close(() => r());
      }),
  };
}
