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
 * Resolves once OpenSSL too sees `notAfter` (ms) as past. It compares whole seconds of time(), which
 * glibc serves from the kernel's coarse clock, a tick behind Date.now(): a handshake a few ms after
 * the notAfter the gateway acts on may still pass (CI, Node 24 under load). A second later it cannot.
 */
export function untilExpiredForOpenSsl(notAfter: Date, what: string): Promise<void> {
  const at = notAfter.getTime() + 1_000;
  return waitFor(
    () => Date.now() > at,
    `${what} (OpenSSL's clock past the notAfter)`,
    at - Date.now() + 5_000,
  );
}

export { freePort } from '../../free-port.js';
