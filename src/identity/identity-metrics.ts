/**
 * The identity service's Prometheus metrics, served on its admin port (`isthmus identity
 * --admin-listen`). Certify publishes one CertifyEvent per call (certify-event.ts classifies the
 * handler's result; certify-log.ts logs the same event); this module subscribes and counts, so
 * nothing is classified twice and the handler counts nothing inline (STYLE.md §9). What is in
 * force (the issuer, the serving certificate, the CRL) is read at each scrape, so a value can never
 * lag behind a reload. Each call gets its own Registry, as the gateway's metrics do, so tests can
 * run several.
 *
 * Label values stay bounded: `result` is a CertifyOutcome, `identity` one the rules grant (or
 * `none`); the identity a refused CSR asks for and the caller's account are the caller's choice,
 * so they stay in the audit log.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { registerBuildInfo } from '../build-info.js';
import { type CertificateInfo, certificateInfo } from './certificate-info.js';
import type { CertifyEvent } from './certify-event.js';
import { CERTIFY_CHANNEL } from './certify-log.js';
import type { CertifyOutcome } from './certify-outcome.js';
import { CONNECTION_REFUSED_CHANNEL, type ConnectionRefusedEvent } from './connection-refused.js';

/** Every Certify outcome, with what it means to an operator (a Record: a new outcome must be added). */
const RESULTS: Record<CertifyOutcome, string> = {
  issued: 'a certificate signed',
  unauthenticated: 'the token was refused',
  denied: 'the account may hold no identity, or the CSR asks for another one',
  invalid: 'a malformed or weak CSR',
  unavailable: 'the TokenReview failed, or the issuer is outside its validity; retried by the gateway',
  cancelled: 'the caller gave up first',
  busy: 'every slot in use, and none came free within the wait or the queue was full (rate limited); retried by the gateway',
  throttled:
    'the caller address had its share of calls in flight or waiting (rate limited); retried by the gateway',
  penalised:
    'the caller address, refused for its credentials lately, had its share of 1 call in flight or waiting (rate limited); retried by the gateway',
  internal: 'signing failed',
};

/** The `identity` label of a call that reached no identity the rules grant. */
export const NO_IDENTITY = 'none';

/** A TokenReview takes milliseconds and signing tens of them; the review gives up at 5 s. */
const CERTIFY_DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A call waits for a slot at most 2 s (MAX_CERTIFY_WAIT_MS); a slot that turns over takes milliseconds. */
const QUEUE_WAIT_BUCKETS_S = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** The certificates in force, by the `certificate` label value, as PEM; undefined while there is none. */
export type CertificateSources = Partial<Record<'issuer' | 'serving', () => string | undefined>>;

export interface IdentityMetricsOptions {
  /** Process metrics (CPU, memory, event loop); off in tests. */
  processMetrics?: boolean;
  /** The identities the rules grant: their `issued` series exist from the first scrape. */
  identities?: readonly string[];
  certificates?: CertificateSources;
  /** The CRL state (`--crl-file`): whether the file on disk was refused, and the serials in force. */
  crl?: () => { refused: boolean; revoked: number };
  /** Whether the issuer files on disk were refused as an update (IssuerWatcher.refused). */
  issuerRefused?: () => boolean;
}

export interface IdentityMetrics {
  readonly registry: Registry;
  /** Prometheus text exposition of every metric in the registry. */
  render(): Promise<string>;
  /** Unsubscribes from the Certify channel. */
  close(): void;
}

export function createIdentityMetrics(options: IdentityMetricsOptions = {}): IdentityMetrics {
  const registry = new Registry();
  registerBuildInfo(registry);
  const requests = new Counter({
    name: 'isthmus_identity_certify_requests_total',
    help: `Certify calls by result (${Object.entries(RESULTS)
      .map(([r, what]) => `${r}: ${what}`)
      .join('; ')}) and by the identity the caller's account holds (${NO_IDENTITY}: none known).`,
    labelNames: ['result', 'identity'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'isthmus_identity_certify_duration_seconds',
    help: 'Time to answer a Certify call (TokenReview, checks and signing), by result.',
    labelNames: ['result'] as const,
    buckets: CERTIFY_DURATION_BUCKETS_S,
    registers: [registry],
  });
  const reviewFailures = new Counter({
    name: 'isthmus_identity_token_review_failures_total',
    help: 'TokenReviews the API server did not answer (timeout) or failed (error): the token may be fine, the gateway retries.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const queueWait = new Histogram({
    name: 'isthmus_identity_certify_queue_wait_seconds',
    help: 'Time Certify calls waited for a slot, every slot being in use (calls that took one at once are not observed), by the result of the call.',
    labelNames: ['result'] as const,
    buckets: QUEUE_WAIT_BUCKETS_S,
    registers: [registry],
  });
  const penalties = new Counter({
    name: 'isthmus_identity_certify_penalties_total',
    help: 'Caller addresses penalised by a Certify refusal of their credentials (unauthenticated, denied): 1 call in flight or waiting for 60 s, or until one is issued. A penalty renewed while in force is not counted.',
    registers: [registry],
  });
  const refusedConnections = new Counter({
    name: 'isthmus_identity_connections_refused_total',
    help: 'Connections closed on arrival, by port (certify, health) and by the bound they met: connections (open on the port), per_address (open from the client address), handshakes (Certify connections still in their TLS handshake). A rising rate with Certify calls failing means a flood, or a bound too small for the gateways.',
    labelNames: ['server', 'reason'] as const,
    registers: [registry],
  });
  // From the first scrape, so that rate() and increase() see the first of each.
  for (const identity of options.identities ?? []) requests.inc({ result: 'issued', identity }, 0);
  for (const result of Object.keys(RESULTS).filter((r) => r !== 'issued'))
    requests.inc({ result, identity: NO_IDENTITY }, 0);
  for (const reason of ['timeout', 'error']) reviewFailures.inc({ reason }, 0);
  certificateGauges(registry, options.certificates ?? {});
  crlGauges(registry, options.crl);
  refusedFileGauge(
    registry,
    'isthmus_identity_issuer_file_refused',
    'Whether the issuer files on disk (--issuer-cert, --issuer-key, --trust-anchor) are ones identity refused as an update (1: the issuer in force keeps signing, but a restart fails on these files), else 0.',
    options.issuerRefused,
  );
  if (options.processMetrics === true) collectDefaultMetrics({ register: registry });

  const onCertify = (raw: unknown): void => {
    const e = raw as CertifyEvent;
    requests.inc({ result: e.outcome, identity: e.identity ?? NO_IDENTITY });
    duration.observe({ result: e.outcome }, e.durationMs / 1000);
    if (e.tokenReview) reviewFailures.inc({ reason: e.tokenReview });
    if (e.waitedMs !== undefined) queueWait.observe({ result: e.outcome }, e.waitedMs / 1000);
    if (e.penaltyImposed) penalties.inc();
  };
  const onRefused = (raw: unknown): void => {
    const e = raw as ConnectionRefusedEvent;
    refusedConnections.inc({ server: e.server, reason: e.reason });
  };
  diagnosticsChannel.subscribe(CERTIFY_CHANNEL, onCertify);
  diagnosticsChannel.subscribe(CONNECTION_REFUSED_CHANNEL, onRefused);
  return {
    registry,
    render: () => registry.metrics(),
    close: () => {
      diagnosticsChannel.unsubscribe(CERTIFY_CHANNEL, onCertify);
      diagnosticsChannel.unsubscribe(CONNECTION_REFUSED_CHANNEL, onRefused);
    },
  };
}

/**
 * Expiry and lifetime of each certificate in force, as the gateway's and Linkerd's
 * `identity_cert_expiration_timestamp_seconds`. A label per certificate, so one that is not there
 * yet has no sample rather than prom-client's 0 (an expiry in 1970 would fire the expiry alert).
 */
function certificateGauges(registry: Registry, sources: CertificateSources): void {
  // The PEM in force changes at a renewal only: each is parsed once, not at every scrape.
  const parsed = new Map<string, { pem: string; info: CertificateInfo }>();
  const inForce = (): Array<[string, CertificateInfo]> => {
    const found: Array<[string, CertificateInfo]> = [];
    for (const [certificate, pemOf] of Object.entries(sources)) {
      const pem = pemOf?.();
      if (pem === undefined) continue;
      let known = parsed.get(certificate);
      if (known?.pem !== pem) {
        known = { pem, info: certificateInfo(pem) };
        parsed.set(certificate, known);
      }
      found.push([certificate, known.info]);
    }
    return found;
  };
  const gauge = (name: string, help: string, value: (info: CertificateInfo) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['certificate'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [certificate, info] of inForce()) this.set({ certificate }, value(info));
      },
    });
  gauge(
    'isthmus_identity_certificate_expiration_timestamp_seconds',
    'When the certificate in force expires (Unix seconds): issuer (what Certify signs with; renewed by you or cert-manager) or serving (what Certify is served with; renewed by the process).',
    (info) => info.notAfter.getTime() / 1000,
  );
  gauge(
    'isthmus_identity_certificate_lifetime_seconds',
    'How long the certificate in force is valid in all (notAfter - notBefore), for alerts relative to it.',
    (info) => (info.notAfter.getTime() - info.notBefore.getTime()) / 1000,
  );
}

/**
 * 1 while a file on disk is one identity refused and what it loaded before stays in force, else 0
 * (also without the file's follower). A state, not a count of refusals: the alert fires for as long
 * as the file stays, not for a window after the refusal.
 */
function refusedFileGauge(
  registry: Registry,
  name: string,
  help: string,
  refused: (() => boolean) | undefined,
): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(refused?.() ? 1 : 0);
    },
  });
}

/** The CRL state, as the gateway's isthmus_gateway_crl_file_refused and _revoked_certificates. */
function crlGauges(registry: Registry, crl: IdentityMetricsOptions['crl']): void {
  refusedFileGauge(
    registry,
    'isthmus_identity_crl_file_refused',
    'Whether the CRL file on disk (--crl-file) is one identity refused, at start or as an update (1: nothing new is revoked until a good file loads), else 0.',
    crl && (() => crl().refused),
  );
  new Gauge({
    name: 'isthmus_identity_crl_revoked_certificates',
    help: 'Serials revoked by the CRLs in force (--crl-file); 0 without one.',
    registers: [registry],
    collect() {
      this.set(crl?.().revoked ?? 0);
    },
  });
}
