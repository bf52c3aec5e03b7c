/**
 * A gateway holds its own certificate to the CRL it loads for its peers (`--crl-file`): every peer
 * that loaded the same list refuses a revoked one, so rather than wait hours for its scheduled
 * renewal, a gateway with identity-issued certificates asks for a new one at once, through the
 * rotator (new handshakes take it, open sessions and their tunnels keep theirs). The new one has a
 * new serial, which the list does not name. What renewing cannot fix (own-revocation.ts): a revoked
 * issuer. The gateway cannot see which issuer identity signs with now (it may have been renewed
 * since), so it asks once; while identity serves with the revoked issuer the gateway refuses it
 * before sending its token, nothing is minted, and the rotator's usual retries take a certificate
 * of the new issuer once identity has one. With `--cert-file` there is nothing to renew: the log
 * says what to do. Each check is caused by a load (at start and on every reload), one line each.
 */
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { describeError } from '../errors.js';
import { normaliseSerial } from '../identity/crl.js';
import {
  type HeldCertificate,
  type OwnRevocationCheck,
  ownRevocationCheck,
} from '../identity/own-revocation.js';
import { splitPem } from '../identity/pem.js';
import type { RevocationList } from '../identity/revocation.js';
import type { CertificateRotator, TlsMaterial } from '../identity/rotation.js';

/** The certificate in use, as a check judges it. */
export interface GatewayCertificate extends HeldCertificate {
  notAfter: Date;
}

export type GatewayCertificateCheck =
  | OwnRevocationCheck<GatewayCertificate>
  /** `--cert-file`: the gateway cannot renew it. */
  | { outcome: 'not-renewable'; revoked: GatewayCertificate; reason: string };

/** How a check that found the certificate refused ended, as `isthmus_gateway_own_certificate_revocations_total` counts it. */
export const OWN_REVOCATION_OUTCOMES = [
  'replaced',
  'renewal_failed',
  'issuer_revoked',
  'not_renewable',
] as const;
export type OwnRevocationOutcome = (typeof OWN_REVOCATION_OUTCOMES)[number];

function heldCertificate(m: TlsMaterial): GatewayCertificate {
  return {
    chainPem: m.chainPem,
    serial: normaliseSerial(new X509Certificate(m.certPem).serialNumber),
    notAfter: m.notAfter,
  };
}

/**
 * Judges the certificate in use against the list in force, renewing it when that can help and it
 * is `renewable` (identity-issued; those checks run one at a time).
 */
export function gatewayCertificateCheck(opts: {
  crl: () => RevocationList;
  rotator: Pick<CertificateRotator, 'current' | 'renewNow'>;
  renewable: boolean;
}): () => Promise<GatewayCertificateCheck> {
  const current = (): GatewayCertificate => {
    const material = opts.rotator.current;
    if (material === undefined) throw new Error('no certificate in use yet');
    return heldCertificate(material);
  };
  if (opts.renewable) {
    return ownRevocationCheck({
      crl: opts.crl,
      current,
      renew: async () => {
        const after = await opts.rotator.renewNow();
        return after === undefined ? current() : heldCertificate(after);
      },
    });
  }
  return async () => {
    const held = current();
    const reason = refusalOf(opts.crl(), held.chainPem);
    return reason === undefined
      ? { outcome: 'in-force' }
      : { outcome: 'not-renewable', revoked: held, reason };
  };
}

/** Why `list` refuses the chain (leaf first), as every peer that loaded it does; undefined if it does not. */
export function refusalOf(list: RevocationList, chainPem: string): string | undefined {
  const [leaf, issuer] = splitPem(chainPem).map((pem) => new X509Certificate(pem));
  return leaf === undefined ? undefined : list.check(leaf, issuer);
}

/** How every line of a check begins, so that one search finds them all. */
const REFUSED = 'certificate refused by the CRL';

/** The issuer's renewal, in the words of `isthmus certs` (files.ts renewalSteps). */
const RENEW_ISSUER =
  'renew the issuer (isthmus certs --out <dir> --clusters <cluster> --reuse-anchor --force, then isthmus upgrade)';

/** The log line of a check: its level, fields and message; nothing when the certificate is in force. */
export function ownCheckLine(
  check: GatewayCertificateCheck,
  certFile?: string,
):
  | { level: 'info' | 'error'; outcome: OwnRevocationOutcome; fields: Record<string, unknown>; msg: string }
  | undefined {
  switch (check.outcome) {
    case 'in-force':
      return undefined;
    case 'replaced':
      return {
        level: 'info',
        outcome: 'replaced',
        fields: {
          serial: check.revoked.serial,
          reason: check.reason,
          renewedSerial: check.renewed.serial,
          notAfter: check.renewed.notAfter.toISOString(),
        },
        msg: `${REFUSED}: replaced`,
      };
    case 'renewal-failed': {
      const fields = { serial: check.revoked.serial, reason: check.reason };
      if (check.issuerSerial === undefined)
        return {
          level: 'error',
          outcome: 'renewal_failed',
          fields,
          msg: `${REFUSED}: not replaced yet, the renewal is retried with backoff (see "certificate renewal failed")`,
        };
      return {
        level: 'error',
        outcome: 'renewal_failed',
        fields: { ...fields, issuerSerial: check.issuerSerial },
        msg: `${REFUSED}: its issuer is revoked and identity has no certificate of another one to give yet; ${RENEW_ISSUER}: the renewal is retried with backoff and takes a certificate of the new issuer once identity signs with it`,
      };
    }
    case 'issuer-revoked':
      return {
        level: 'error',
        outcome: 'issuer_revoked',
        fields: { serial: check.certificate.serial, issuerSerial: check.issuerSerial, reason: check.reason },
        msg: `${REFUSED}, and a new certificate from the same issuer is refused too: ${RENEW_ISSUER}, then restart the gateways`,
      };
    case 'not-renewable':
      return {
        level: 'error',
        outcome: 'not_renewable',
        fields: { serial: check.revoked.serial, reason: check.reason, certFile },
        msg: `${REFUSED}: --cert-file is not renewed by the gateway; replace --cert-file and --key-file with a new certificate and send SIGHUP (or restart)`,
      };
  }
}

/**
 * The check wired to a log and a counter: call the result after each CRL load. One line per load
 * that finds the certificate refused; a check that fails is logged, never thrown.
 */
export function followOwnRevocation(opts: {
  check: () => Promise<GatewayCertificateCheck>;
  /** Why the list in force refuses a chain (leaf first), if it does. */
  refused: (chainPem: string) => string | undefined;
  log: Logger;
  count: (outcome: OwnRevocationOutcome) => void;
  certFile?: string;
}): { check: () => Promise<void>; rotated: (material: { certPem: string; chainPem: string }) => void } {
  /** The serial of a refused certificate not replaced yet: its replacement closes the report. */
  let pending: string | undefined;
  return {
    check: async () => {
      // A renewal the check itself makes is its own report, not a later one.
      pending = undefined;
      try {
        const line = ownCheckLine(await opts.check(), opts.certFile);
        if (line === undefined) return;
        opts.count(line.outcome);
        opts.log[line.level](line.fields, line.msg);
        if (line.outcome !== 'replaced') pending = String(line.fields.serial);
      } catch (err) {
        opts.log.error({ err: describeError(err) }, 'own certificate not checked against the CRL');
      }
    },
    // A later renewal (the rotator's retry once identity could sign, new --cert-file files) replaced
    // the refused certificate: said, and counted, as a replacement at the check would have been.
    rotated: ({ certPem, chainPem }) => {
      if (pending === undefined) return;
      const renewedSerial = normaliseSerial(new X509Certificate(certPem).serialNumber);
      if (renewedSerial === pending) return;
      // A renewal from an issuer the list refuses too (one renewed with the same key, new files of
      // a revoked issuer) replaces nothing: still refused, under its new serial.
      const refused = opts.refused(chainPem);
      if (refused !== undefined) {
        opts.log.error(
          { serial: pending, renewedSerial, reason: refused },
          `${REFUSED}: renewed, and the new certificate is refused too`,
        );
        pending = renewedSerial;
        return;
      }
      opts.count('replaced');
      opts.log.info({ serial: pending, renewedSerial }, `${REFUSED}: replaced by a later renewal`);
      pending = undefined;
    },
  };
}
