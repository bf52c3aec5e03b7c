/**
 * The identity service's audit log: one line per Certify call. An issued certificate is logged with
 * its serial (lowercase hex, as `isthmus certs revoke --serial` takes it), the serial of the issuer
 * that signed it (`issuer=`: whose CRL must list it), its notAfter and who asked
 * (the TokenReview's account and pod, and the caller's address), so a certificate minted with a
 * stolen token can be found and revoked; a refusal with its reason and, once the token named
 * someone, who asked.
 *
 * Much of a line is the caller's choice: the reason quotes the SANs its CSR asks for, and the
 * account and pod are what the token's authenticator says. Each value is written bare only when it
 * is plain printable ASCII that cannot pass for a field or a line of ours; any other is a JSON string
 * with every character outside printable ASCII, and `=`, escaped (`\n`, `\u003d`). So one call is
 * always exactly one line, and a `serial=` or a line start in a log is always ours.
 *
 * Refusals are rate limited per caller address and outcome (the first in a minute is logged; the
 * next line says how many were left out), so a flood of calls cannot flood the log; every call is
 * still counted in the metrics (identity-metrics.ts). An issued certificate is always logged.
 *
 * No gRPC here: the CLI subscribes before it loads the identity service (certify-service.ts).
 */

import diagnosticsChannel from 'node:diagnostics_channel';
import { type LogWindowOptions, logWindows } from '../log-windows.js';
import type { CertifyEvent } from './certify-event.js';

/** The channel certify-grpc.ts publishes a CertifyEvent to, once per Certify call (certify-event.ts). */
export const CERTIFY_CHANNEL = 'isthmus:identity:certify';

/** A value written bare: printable ASCII, no space, and none of `"`, `\`, `=`. */
const BARE_VALUE = /^[!#-<>-[\]-~]+$/;
/** A reason written bare: the same, spaces allowed inside. */
const BARE_TEXT = /^[!#-<>-[\]-~](?:[ !#-<>-[\]-~]*[!#-<>-[\]-~])?$/;

/** `value` as a JSON string of printable ASCII: control and non-ASCII characters, and `=`, escaped. */
function quoted(value: string): string {
  return JSON.stringify(value).replace(
    /[^\x20-\x7e]|=/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A caller-derived value of one word (an account, a pod, an identity): bare if plain, else quoted. */
function value(v: string): string {
  return BARE_VALUE.test(v) ? v : quoted(v);
}

/** A caller-derived sentence (a refusal's reason): bare if plain, else quoted. */
function text(v: string): string {
  return BARE_TEXT.test(v) ? v : quoted(v);
}

/** ` user=<account> pod=<pod> peer=<address>`, each only when known. */
function callerFields(e: CertifyEvent): string {
  return `${e.user ? ` user=${value(e.user)}` : ''}${e.pod ? ` pod=${value(e.pod)}` : ''}${e.peer ? ` peer=${value(e.peer)}` : ''}`;
}

/** ` issuer=<serial>` when the event names the issuer that signed, or could not sign. */
function issuerField(e: CertifyEvent): string {
  return e.issuer ? ` issuer=${value(e.issuer)}` : '';
}

/**
 * The log line of one event, and whether it is an error (stderr) or not (stdout). `suppressed`:
 * refusals like it (same address, same outcome) not logged since the previous line of them.
 */
export function formatCertifyEvent(e: CertifyEvent, suppressed = 0): { error: boolean; line: string } {
  if (e.outcome === 'issued')
    return {
      error: false,
      line: `identity: issued a certificate for ${value(e.identity ?? '?')} serial=${value(e.serial ?? '?')}${issuerField(e)} notAfter=${value(e.notAfter ?? '?')}${callerFields(e)}\n`,
    };
  return {
    error: true,
    line: `identity: Certify ${e.outcome}: ${text(e.reason ?? 'no reason given')}${issuerField(e)}${callerFields(e)}${suppressed > 0 ? ` suppressed=${suppressed}` : ''}\n`,
  };
}

/** One line per caller address and outcome per window (log-windows.ts). */
export type CertifyLogOptions = LogWindowOptions;

/**
 * Writes one line per Certify call to `out` (issued) or `err` (refused) until the returned function
 * is called; refusals at most one per caller address and outcome per `windowMs`.
 */
export function logCertifyOutcomes(
  out: (line: string) => void = (l) => process.stdout.write(l),
  err: (line: string) => void = (l) => process.stderr.write(l),
  options: CertifyLogOptions = {},
): () => void {
  const limiter = refusalLimiter(options);
  const onCertify = (raw: unknown): void => {
    const event = raw as CertifyEvent;
    if (event.outcome === 'issued') {
      out(formatCertifyEvent(event).line);
      return;
    }
    const suppressed = limiter(event);
    if (suppressed !== undefined) err(formatCertifyEvent(event, suppressed).line);
  };
  diagnosticsChannel.subscribe(CERTIFY_CHANNEL, onCertify);
  return () => diagnosticsChannel.unsubscribe(CERTIFY_CHANNEL, onCertify);
}

/**
 * For each refusal: undefined when it is left out of the log, else the number left out before it
 * (since the previous line of the same address and outcome).
 */
function refusalLimiter(options: CertifyLogOptions): (e: CertifyEvent) => number | undefined {
  const windows = logWindows(options);
  // A NUL cannot be in an address or an outcome: the key is unambiguous.
  return (e) => windows(`${e.peer ?? ''}\0${e.outcome}`, e.outcome);
}
