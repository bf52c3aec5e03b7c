/** Polling with a deadline: the tests' only way to wait for a condition (never a bare sleep). */

export async function waitFor(condition: () => boolean, what: string, deadlineMs = 5_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Rejects when `promise` does not settle within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

/**
 * What OpenSSL's clock can lag Date.now() by: a tick of the kernel's coarse clock (4 ms at HZ=250,
 * 10 ms at HZ=100; up to 6 ms measured on a 250 Hz machine), with room to spare.
 */
const COARSE_CLOCK_LAG_MS = 100;

/**
 * Resolves once OpenSSL too sees `notAfter` (ms) as past. X.509 keeps whole seconds (node-forge
 * drops the milliseconds), and OpenSSL compares them with time(), which glibc serves from the
 * kernel's coarse clock, a tick behind Date.now(): a handshake a few ms after the notAfter the
 * gateway acts on may still pass (CI, Node 24 under load). Waiting out the whole second after it,
 * and a tick, leaves no doubt whichever way OpenSSL rounds.
 */
export function untilExpiredForOpenSsl(notAfter: Date, what: string): Promise<void> {
  const at = Math.floor(notAfter.getTime() / 1_000) * 1_000 + 1_000 + COARSE_CLOCK_LAG_MS;
  return waitFor(
    () => Date.now() >= at,
    `${what} (OpenSSL's clock past the notAfter)`,
    Math.max(0, at - Date.now()) + 5_000,
  );
}

export { freePort } from '../../free-port.js';
