/**
 * When a peer's certificate chain stops being valid, and a timer for that moment. OpenSSL checks
 * validity only during the handshake: an HTTP/2 session outlives it (a gateway keeps one per peer
 * for days), so both faces arm one timer per session at the earliest notAfter of the verified chain
 * and stop opening streams on it then (security review: tunnels opened with an expired certificate).
 */

/** setTimeout's longest delay (2^31 − 1 ms, ~24.8 days): a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Certificates walked up a chain at most: a loop or a hostile chain ends there. */
const MAX_CHAIN_DEPTH = 10;

/**
 * The earliest notAfter (ms since the epoch) of `leaf` and the issuers above it, or undefined
 * without a leaf or a date that parses. An intermediate that expires before the leaf ends the
 * chain's validity with it. Generic over Node's two certificate shapes (X509Certificate and
 * tls.DetailedPeerCertificate), whose roots name themselves as their issuer.
 */
export function chainNotAfter<C>(
  leaf: C | undefined,
  validTo: (cert: C) => string,
  issuerOf: (cert: C) => C | undefined,
): number | undefined {
  let earliest: number | undefined;
  const seen = new Set<C>();
  for (let cert = leaf; cert !== undefined && !seen.has(cert) && seen.size < MAX_CHAIN_DEPTH; ) {
    seen.add(cert);
    const at = Date.parse(validTo(cert));
    if (!Number.isNaN(at) && (earliest === undefined || at < earliest)) earliest = at;
    cert = issuerOf(cert);
  }
  return earliest;
}

/**
 * Calls `onExpiry` once the time is past `notAfter` (OpenSSL's rule: a certificate is valid through
 * its notAfter second), in a later tick even when it already is. A date beyond setTimeout's range
 * re-arms in steps of MAX_TIMER_MS. The timer keeps no process alive; the returned function
 * cancels it (call it when the session closes).
 */
export function atExpiry(notAfter: number, onExpiry: () => void, now: () => number = Date.now): () => void {
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    const left = notAfter - now();
    if (left < 0) {
      timer = undefined;
      onExpiry();
      return;
    }
    timer = setTimeout(arm, Math.min(left + 1, MAX_TIMER_MS));
    timer.unref();
  };
  timer = setTimeout(arm, 0);
  timer.unref();
  return () => clearTimeout(timer);
}
