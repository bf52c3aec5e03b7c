/**
 * Signing an authorised Certify request with the issuer in force: never with an issuer outside its
 * validity (its renewal never came), and never past the issuer's own end. Pure JS on the event
 * loop, no I/O.
 */
import {
  CLOCK_SKEW_ALLOWANCE_MS,
  chainOf,
  issueLeaf,
  issuerWindowProblem,
  type KeyPairPem,
  leafNotAfter,
} from './ca.js';
import { certificateInfo } from './certificate-info.js';
import type { Authorised } from './certify-authorisation.js';
import { type CertifyResult, refusal } from './certify-outcome.js';
import { normaliseSerial } from './crl.js';

/**
 * The leaf for `request` at `nowMs`, valid for `lifetimeMs` but not past the issuer; or
 * FAILED_PRECONDITION naming why the issuer cannot sign now.
 */
export function signCertificate(
  issuer: KeyPairPem,
  request: Authorised,
  nowMs: number,
  lifetimeMs: number,
): CertifyResult {
  const { caller, identity } = request;
  const issuerInfo = certificateInfo(issuer.certPem);
  // The audit log names the issuer: a serial alone does not say whose CRL must list it.
  const issuerSerial = normaliseSerial(issuerInfo.serialNumber);
  const unusable = issuerWindowProblem(issuerInfo, nowMs);
  if (unusable) return { ...refusal('issuer-unusable', unusable, caller), identity, issuer: issuerSerial };
  const notAfter = leafNotAfter(nowMs, lifetimeMs, issuerInfo.notAfter);
  const leaf = issueLeaf(issuer, {
    uriSans: [identity],
    publicKeyPem: request.publicKeyPem,
    notBefore: new Date(nowMs - CLOCK_SKEW_ALLOWANCE_MS),
    notAfter,
  });
  return {
    ok: true,
    identity,
    serial: normaliseSerial(certificateInfo(leaf.certPem).serialNumber),
    issuer: issuerSerial,
    caller,
    response: {
      certPem: leaf.certPem,
      chainPem: chainOf(leaf.certPem, issuer),
      notAfterUnixMs: notAfter.getTime(),
    },
  };
}
