/**
 * The gateway's certificate metrics, as Linkerd's proxy exports
 * `identity_cert_expiration_timestamp_seconds`: without them an identity service down for hours
 * alerted on nothing until the certificate ran out and every tunnel failed. The rotator renews at
 * ~70 % of the lifetime, so the expiry and the lifetime together say when renewal has been failing
 * for a while (examples/prometheus/isthmus-alerts.yaml), and the renewals by result say how often.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { OWN_REVOCATION_OUTCOMES, type OwnRevocationOutcome } from './own-certificate-revocation.js';

/** A certificate's validity, as the metrics need it. */
export interface CertificateValidity {
  notBefore: Date;
  notAfter: Date;
}

export interface CertificateMetrics {
  /**
   * A gateway certificate was taken into use (`ok`: the first one, or a renewal, from --cert-file
   * or the identity service; `validity` is the new one's) or a fetch of one failed (`error`: the
   * rotator retries with backoff, the certificate in use stays).
   */
  renewed(result: 'ok' | 'error', validity?: CertificateValidity): void;
  /** A CRL load refused the certificate in use, and what the gateway did (own-certificate-revocation.ts). */
  ownRevoked(outcome: OwnRevocationOutcome): void;
  /**
   * How to tell, at each scrape, whether the list in force refuses the certificate in use: the
   * state `isthmus_gateway_own_certificate_revoked` reports (0 until this is given: no CRL, no check).
   */
  revokedWhile(refused: () => boolean): void;
}

/**
 * A gauge without labels that has no sample until it is first set. prom-client starts such a gauge
 * at 0, and a certificate expiring at 0 (1970) would fire the expiry alert on every gateway still
 * waiting for its first certificate.
 */
class GaugeAbsentUntilSet extends Gauge {
  #hasValue = false;

  setValue(value: number): void {
    this.#hasValue = true;
    this.set(value);
  }

  override async get(): ReturnType<Gauge['get']> {
    const metric = await super.get();
    return this.#hasValue ? metric : { ...metric, values: [] };
  }
}

export function certificateMetrics(registry: Registry): CertificateMetrics {
  const expiry = new GaugeAbsentUntilSet({
    name: 'isthmus_gateway_certificate_expiration_timestamp_seconds',
    help: "When the gateway's certificate in use expires (Unix seconds).",
    registers: [registry],
  });
  const lifetime = new GaugeAbsentUntilSet({
    name: 'isthmus_gateway_certificate_lifetime_seconds',
    help: 'How long the certificate in use is valid in all (notAfter - notBefore), for alerts relative to it.',
    registers: [registry],
  });
  const renewals = new Counter({
    name: 'isthmus_gateway_certificate_renewals_total',
    help: 'Gateway certificate fetches (the first and each renewal): ok (a new certificate in use), or error (retried; the one in use stays).',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  // From the first scrape, so that increase() sees the first error.
  for (const result of ['ok', 'error']) renewals.inc({ result }, 0);
  let inUse: CertificateValidity | undefined;
  // 0 from the first scrape: the expiry above has no sample before a first certificate, so a
  // gateway that never got one (identity unreachable, its token refused) alerted on nothing.
  new Gauge({
    name: 'isthmus_gateway_certificate_valid',
    help: "1 while the gateway's certificate in use is within its validity; 0 before the first one and once it expired unrenewed.",
    registers: [registry],
    collect() {
      const now = Date.now();
      this.set(inUse && inUse.notBefore.getTime() <= now && now < inUse.notAfter.getTime() ? 1 : 0);
    },
  });
  const ownRevocations = new Counter({
    name: 'isthmus_gateway_own_certificate_revocations_total',
    help: "CRL loads that refused the gateway's own certificate in use, by what it did: replaced (renewed at once), renewal_failed (retried with backoff), issuer_revoked (renew the issuer), not_renewable (--cert-file: replace the files).",
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  for (const outcome of OWN_REVOCATION_OUTCOMES) ownRevocations.inc({ outcome }, 0);
  // A state, not the count of loads above: an alert on the count's increase resolved 15 minutes
  // after a load while every peer still refused the gateway, and paged for a renewal that had
  // already succeeded by its next retry.
  let refused: () => boolean = () => false;
  new Gauge({
    name: 'isthmus_gateway_own_certificate_revoked',
    help: "1 while the CRL in force refuses the gateway's own certificate in use (every peer that loaded it refuses the gateway), else 0.",
    registers: [registry],
    collect() {
      this.set(refused() ? 1 : 0);
    },
  });
  return {
    ownRevoked: (outcome) => ownRevocations.inc({ outcome }),
    revokedWhile: (read) => {
      refused = read;
    },
    renewed(result, validity) {
      renewals.inc({ result });
      if (validity === undefined) return;
      inUse = validity;
      expiry.setValue(validity.notAfter.getTime() / 1000);
      lifetime.setValue((validity.notAfter.getTime() - validity.notBefore.getTime()) / 1000);
    },
  };
}
