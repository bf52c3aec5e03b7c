/**
 * The identity service's own TLS certificate, which Certify on :8080 is served with (Linkerd's
 * identity serves its gRPC over TLS too). It is minted in this process from the issuer it already
 * holds, so there is no other Secret to manage: URI SAN `identityServiceId` (what a gateway
 * requires), DNS SANs the Service's names (for tools that check a host name). It lives 24 h, is
 * renewed at ~70 % of its life and whenever the issuer is reloaded, and reaches Certify's TLS
 * listener (grpc-listener.ts) through grpc-js's CertificateProvider interface: the listener swaps its
 * secure context, open connections and calls in flight keep theirs, new handshakes get the new
 * certificate, and nothing restarts.
 */
import type { experimental } from '@grpc/grpc-js';
import { describeError, IsthmusError } from '../errors.js';
import {
  CLOCK_SKEW_ALLOWANCE_MS,
  chainOf,
  DEFAULT_LEAF_LIFETIME_MS,
  issueLeaf,
  issuerWindowProblem,
  type KeyPairPem,
  leafNotAfter,
} from './ca.js';
import { certificateInfo } from './certificate-info.js';
import { normaliseSerial } from './crl.js';
import { generateLeafKeyAsync, type LeafKeyType } from './keys.js';
import { DEFAULT_ROTATION_POLICY, type RotationPolicy, renewalDelay, retryDelay } from './rotation-policy.js';
import { identityServiceId } from './spiffe.js';
import { WallClockTimer } from './wall-clock-timer.js';

type CertificateProvider = experimental.CertificateProvider;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

export interface ServingCertificate {
  certPem: string;
  keyPem: string;
  /** Leaf followed by the issuer: what the server presents. */
  chainPem: string;
  notAfter: Date;
  /** Lowercase hex without leading zeros, as the audit log writes serials. */
  serial: string;
}

/**
 * The names of the identity Service a client may dial: `<svc>`, `<svc>.<ns>`, `<svc>.<ns>.svc`
 * and `<svc>.<ns>.svc.<cluster domain>` (what a pod's DNS search path resolves).
 */
export function identityDnsNames(opts: {
  serviceName: string;
  namespace: string;
  clusterDomain: string;
}): string[] {
  const { serviceName: svc, namespace: ns } = opts;
  return [svc, `${svc}.${ns}`, `${svc}.${ns}.svc`, `${svc}.${ns}.svc.${opts.clusterDomain}`];
}

export interface ServingCertificateOptions {
  /** The issuer in force (it is reloaded when renewed): each certificate is signed by the current one. */
  issuer: () => KeyPairPem;
  trustDomain: string;
  cluster: string;
  dnsNames: readonly string[];
  /** Default 24 h; never past the issuer's own notAfter. */
  lifetimeMs?: number;
  /** ECDSA P-256 by default, as every leaf Isthmus makes for itself (keys.ts). */
  keyType?: LeafKeyType;
  /** When to renew and how to retry (the gateway rotator's defaults: 70 %, backoff). */
  policy?: Partial<RotationPolicy>;
  now?: () => number;
  onRenewed?: (cert: ServingCertificate) => void;
  /** A renewal failed; the certificate in force keeps serving and the renewal is retried. */
  onError?: (err: IsthmusError) => void;
}

/** Mints one serving certificate: a fresh key (off the event loop) certified by the issuer. */
export async function issueServingCertificate(
  opts: Pick<ServingCertificateOptions, 'trustDomain' | 'cluster' | 'dnsNames' | 'lifetimeMs' | 'keyType'> & {
    issuer: KeyPairPem;
    nowMs: number;
  },
): Promise<ServingCertificate> {
  const issuerInfo = certificateInfo(opts.issuer.certPem);
  const unusable = issuerWindowProblem(issuerInfo, opts.nowMs);
  if (unusable) throw new IsthmusError('CERT_INVALID', `no serving certificate: ${unusable}`);
  const key = await generateLeafKeyAsync(opts.keyType);
  const notAfter = leafNotAfter(opts.nowMs, opts.lifetimeMs ?? DEFAULT_LEAF_LIFETIME_MS, issuerInfo.notAfter);
  const leaf = issueLeaf(opts.issuer, {
    uriSans: [identityServiceId(opts.trustDomain, opts.cluster)],
    dnsSans: [...opts.dnsNames],
    publicKeyPem: key.publicKeyPem,
    notBefore: new Date(opts.nowMs - CLOCK_SKEW_ALLOWANCE_MS),
    notAfter,
  });
  return {
    certPem: leaf.certPem,
    keyPem: key.privateKeyPem,
    chainPem: chainOf(leaf.certPem, opts.issuer),
    notAfter,
    serial: normaliseSerial(certificateInfo(leaf.certPem).serialNumber),
  };
}

/**
 * Holds the serving certificate, renews it, and hands it to grpc-js
 * (`experimental.createCertificateProviderServerCredentials`). It supplies no CA: the server asks
 * no client certificate, since the token in the request is what authenticates a caller.
 */
export class ServingCertificateProvider implements CertificateProvider {
  readonly #opts: ServingCertificateOptions;
  readonly #policy: RotationPolicy;
  readonly #now: () => number;
  readonly #listeners = new Set<IdentityListener>();
  #current: ServingCertificate | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #timer: WallClockTimer;
  #failures = 0;
  #stopped = false;

  private constructor(opts: ServingCertificateOptions) {
    this.#opts = opts;
    this.#policy = { ...DEFAULT_ROTATION_POLICY, ...opts.policy };
    this.#now = opts.now ?? Date.now;
    this.#timer = new WallClockTimer(this.#now);
  }

  /** Mints the first certificate (a failure stops the start, with the reason) and schedules renewal. */
  static async start(opts: ServingCertificateOptions): Promise<ServingCertificateProvider> {
    const provider = new ServingCertificateProvider(opts);
    provider.#apply(await provider.#issue());
    return provider;
  }

  get current(): ServingCertificate {
    return this.#current!;
  }

  /**
   * A new certificate now (the issuer was reloaded); resolves with the one in force afterwards.
   * Renewals run one at a time, each with the issuer in force when it starts, so one that began
   * before a reload is followed by one signed by the new issuer.
   */
  renewNow(): Promise<ServingCertificate> {
    const next = this.#queue.then(() => this.#renew());
    this.#queue = next;
    return next;
  }

  stop(): void {
    this.#stopped = true;
    this.#timer.cancel();
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#listeners.add(listener);
    // Not synchronously: grpc-js registers its own watcher only after this returns, and would miss it.
    // A listener that throws there would throw out of a tick and end the process: reported instead.
    if (this.#current) {
      const update = updateOf(this.#current);
      process.nextTick(() => {
        try {
          listener(update);
        } catch (err) {
          this.#opts.onError?.(servingError(err));
        }
      });
    }
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#listeners.delete(listener);
  }

  addCaCertificateListener(): void {}
  removeCaCertificateListener(): void {}

  #issue(): Promise<ServingCertificate> {
    return issueServingCertificate({ ...this.#opts, issuer: this.#opts.issuer(), nowMs: this.#now() });
  }

  async #renew(): Promise<ServingCertificate> {
    if (this.#stopped) return this.current;
    try {
      this.#apply(await this.#issue());
      this.#opts.onRenewed?.(this.current);
    } catch (err) {
      this.#failures++;
      const remaining = this.current.notAfter.getTime() - this.#now();
      this.#schedule(retryDelay(this.#failures, remaining, this.#policy));
      this.#opts.onError?.(servingError(err));
    }
    return this.current;
  }

  /**
   * Hands `cert` to the listeners, then makes it current: one that cannot load it (its
   * setSecureContext threw) fails the renewal, so `current` never names a certificate not served.
   * (The listeners that did load it serve it until the retry, which applies again to all.)
   */
  #apply(cert: ServingCertificate): void {
    if (this.#stopped) return;
    const update = updateOf(cert);
    for (const listener of this.#listeners) listener(update);
    this.#current = cert;
    this.#failures = 0;
    this.#schedule(renewalDelay(this.#now(), cert.notAfter.getTime(), this.#policy));
  }

  #schedule(delayMs: number): void {
    if (!this.#stopped) this.#timer.arm(delayMs, () => void this.renewNow());
  }
}

function servingError(err: unknown): IsthmusError {
  return err instanceof IsthmusError
    ? err
    : new IsthmusError('CERT_INVALID', `serving certificate: ${describeError(err)}`, { cause: err });
}

function updateOf(cert: ServingCertificate): experimental.IdentityCertificateUpdate {
  return { certificate: Buffer.from(cert.chainPem), privateKey: Buffer.from(cert.keyPem) };
}
