/** Small socket helpers shared by the bench modules. */
import net from 'node:net';

/** Whether a TCP connection to host:port is accepted within `timeoutMs`. */
export function canConnect(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A port free on `host` right now (for listeners whose port must be written into a config). */
export async function freePort(host: string): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** One GET on a fresh connection; resolves with the status line and body. */
export async function httpGet(
  host: string,
  port: number,
  timeoutMs = 5_000,
): Promise<{ status: number; body: string }> {
  const controller = AbortSignal.timeout(timeoutMs);
  const res = await fetch(`http://${host}:${port}/`, {
    signal: controller,
    headers: { connection: 'close' },
  });
  return { status: res.status, body: await res.text() };
}
