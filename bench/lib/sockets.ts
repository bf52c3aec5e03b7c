/** Small socket helpers shared by the bench modules. */
export { canConnect, freePort } from '../../src/free-port.js';

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
