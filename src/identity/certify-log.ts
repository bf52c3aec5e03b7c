/**
 * The identity service's audit log: one line per Certify call. An issued certificate is logged with
 * its serial (lowercase hex, as `isthmus certs revoke --serial` takes it), its notAfter and who asked
 * (the TokenReview's account and pod), so a certificate minted with a stolen token can be found and
 * revoked; a refusal with its reason and, once the token named someone, who asked.
 *
 * No gRPC here: the CLI subscribes before it loads the identity service (certify-service.ts).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { CertifyEvent } from './certify-service.js';

/** The channel certify-service.ts publishes a CertifyEvent to, once per Certify call. */
export const CERTIFY_CHANNEL = 'isthmus:identity:certify';

/** ` user=<account> pod=<pod>`, each only when known. */
function callerFields(e: CertifyEvent): string {
  return `${e.user ? ` user=${e.user}` : ''}${e.pod ? ` pod=${e.pod}` : ''}`;
}

/** The log line of one event, and whether it is an error (stderr) or not (stdout). */
export function formatCertifyEvent(e: CertifyEvent): { error: boolean; line: string } {
  if (e.outcome === 'issued')
    return {
      error: false,
      line: `identity: issued a certificate for ${e.identity ?? '?'} serial=${e.serial ?? '?'} notAfter=${e.notAfter ?? '?'}${callerFields(e)}\n`,
    };
  return {
    error: true,
    line: `identity: Certify ${e.outcome}: ${e.reason ?? 'no reason given'}${callerFields(e)}\n`,
  };
}

/**
 * Writes one line per Certify call to `out` (issued) or `err` (refused) until the returned function
 * is called.
 */
export function logCertifyOutcomes(
  out: (line: string) => void = (l) => process.stdout.write(l),
  err: (line: string) => void = (l) => process.stderr.write(l),
): () => void {
  const onCertify = (raw: unknown): void => {
    const { error, line } = formatCertifyEvent(raw as CertifyEvent);
    (error ? err : out)(line);
  };
  diagnosticsChannel.subscribe(CERTIFY_CHANNEL, onCertify);
  return () => diagnosticsChannel.unsubscribe(CERTIFY_CHANNEL, onCertify);
}
