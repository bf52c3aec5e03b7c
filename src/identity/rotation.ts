import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { describeError, IsthmusError } from '../errors.js';
import { parseCertificate } from './certificate-info.js';
import { type IdentityServiceTrust, type IssuedCertificate, requestCertificate } from './certify-client.js';
import { splitPem } from './pem.js';
import { DEFAULT_ROTATION_POLICY, type RotationPolicy, renewalDelay, retryDelay } from './rotation-policy.js';
import { keyMismatch } from './validate.js';
import { verifyChain } from './verify-chain.js';
import { WallClockTimer } from './wall-clock-timer.js';

/** What a gateway needs for TLS: its key, the chain it presents and the anchor it trusts. */
export interface TlsMaterial extends IssuedCertificate {
  anchorPem: string;
}

/** Where certificates come from: called at start and at every renewal. */
export type CertificateSource = () => Promise<IssuedCertificate>;

/** The identity service. The token file is re-read each time: projected tokens rotate too. */
export function certifySource(opts: {
  address: string;
  /** What the identity service must prove (over TLS) before the token is sent. */
  server: IdentityServiceTrust;
  token?: string;
  tokenFile?: string;
  identity?: string;
  timeoutMs?: number;
}): CertificateSource {
  return async () => {
    const token =
      opts.tokenFile === undefined ? (opts.token ?? '') : (await readFile(opts.tokenFile, 'utf8')).trim();
    return requestCertificate({
      address: opts.address,
      token,
      server: opts.server,
      ...(opts.identity === undefined ? {} : { identity: opts.identity }),
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    });
  };
}

/**
 * Files a user manages (`--cert/--key`): the cert file holds the leaf, optionally followed by its
 * intermediates. Re-read at each renewal, so replacing the files (cert-manager, a script) rotates.
 */
export function fileSource(opts: { certFile: string; keyFile: string }): CertificateSource {
  return async () => {
    const [chainPem, keyPem] = await Promise.all([
      readFile(opts.certFile, 'utf8'),
      readFile(opts.keyFile, 'utf8'),
    ]);
    const certPem = splitPem(chainPem)[0];
    if (certPem === undefined)
      throw new IsthmusError('CERT_INVALID', `${opts.certFile}: no PEM CERTIFICATE block`);
    return { certPem, keyPem, chainPem, notAfter: new Date(parseCertificate(certPem).validTo) };
  };
}

/** Options for tls.createSecureContext / tls.createServer from a piece of material. */
export function secureContextOptions(m: TlsMaterial): { key: string; cert: string; ca: string } {
  return { key: m.keyPem, cert: m.chainPem, ca: m.anchorPem };
}

export interface CertificateRotatorEvents {
  rotated: [TlsMaterial];
  error: [IsthmusError];
}

/**
 * Holds the current certificate and renews it before it expires: at ~70% of its lifetime, with
 * jitter; on failure it retries with backoff and emits 'error' each time, and keeps trying after
 * expiry (never silently). New material is checked (key matches, chain reaches the anchor) before
 * it replaces the old, then 'rotated' is emitted. Swap it in with `server.setSecureContext()`: open
 * connections keep the context they were made with. Without an 'error' listener, errors become
 * process warnings instead of crashing the process from a timer.
 */
export class CertificateRotator extends EventEmitter<CertificateRotatorEvents> {
  readonly #source: CertificateSource;
  readonly #anchorPem: string;
  readonly #policy: RotationPolicy;
  readonly #now: () => number;
  #current: TlsMaterial | undefined;
  readonly #timer: WallClockTimer;
  #stopped = false;
  #failures = 0;
  #first: Promise<TlsMaterial> | undefined;
  #firstWaiter: { resolve(m: TlsMaterial): void; reject(err: Error): void } | undefined;
  #inFlight: Promise<TlsMaterial | undefined> | undefined;

  constructor(opts: {
    source: CertificateSource;
    anchorPem: string;
    policy?: Partial<RotationPolicy>;
    now?: () => number;
  }) {
    super();
    this.#source = opts.source;
    this.#anchorPem = opts.anchorPem;
    this.#policy = { ...DEFAULT_ROTATION_POLICY, ...opts.policy };
    this.#now = opts.now ?? Date.now;
    this.#timer = new WallClockTimer(this.#now);
  }

  get current(): TlsMaterial | undefined {
    return this.#current;
  }

  /** Resolves with the first valid material (retrying until then); rejects only if stopped first. */
  start(): Promise<TlsMaterial> {
    if (this.#current) return Promise.resolve(this.#current);
    if (this.#stopped)
      return Promise.reject(new IsthmusError('CERT_INVALID', 'certificate rotator is stopped'));
    this.#first ??= new Promise<TlsMaterial>((resolve, reject) => {
      this.#firstWaiter = { resolve, reject };
      void this.#attempt();
    });
    return this.#first;
  }

  /** Renew now (e.g. on SIGHUP after replacing `--cert/--key`); resolves with the material in use afterwards. */
  async renewNow(): Promise<TlsMaterial | undefined> {
    await this.#attempt();
    return this.#current;
  }

  stop(): void {
    this.#stopped = true;
    this.#timer.cancel();
    this.#firstWaiter?.reject(
      new IsthmusError('CERT_INVALID', 'certificate rotator stopped before the first certificate'),
    );
    this.#firstWaiter = undefined;
  }

  #attempt(): Promise<TlsMaterial | undefined> {
    if (this.#inFlight) return this.#inFlight;
    const settle = () => {
      this.#inFlight = undefined;
    };
    this.#inFlight = this.#fetchAndApply().then(
      (material) => {
        // Only now, once no attempt is in flight, so whoever start() wakes can renewNow() at once.
        settle();
        if (material) this.#firstWaiter?.resolve(material);
        if (material) this.#firstWaiter = undefined;
        return material;
      },
      (err: unknown) => {
        settle();
        throw err;
      },
    );
    return this.#inFlight;
  }

  async #fetchAndApply(): Promise<TlsMaterial | undefined> {
    this.#timer.cancel();
    let material: TlsMaterial;
    try {
      material = { ...(await this.#source()), anchorPem: this.#anchorPem };
      const problem = this.#problemWith(material);
      if (problem) throw new IsthmusError('CERT_INVALID', problem);
    } catch (err) {
      if (!this.#stopped) this.#failed(err);
      return undefined;
    }
    if (this.#stopped) return undefined;
    const previous = this.#current;
    // Only the same certificate again is "nothing new". A different one that passed the checks is
    // taken even if it ends sooner: --cert-lifetime was lowered, or the issuer ends first (leaves
    // are capped at its notAfter). Refusing it would mint a certificate per retry until the old
    // one had less time left than the new lifetime, and keep a certificate the source replaced.
    if (previous && material.certPem.trim() === previous.certPem.trim()) {
      // Same certificate again (a file source nobody updated): not yet an error while time is left.
      this.#failed(
        new IsthmusError('CERT_INVALID', 'the certificate source returned no newer certificate'),
        true,
      );
      return undefined;
    }
    this.#current = material;
    this.#failures = 0;
    this.#schedule(renewalDelay(this.#now(), material.notAfter.getTime(), this.#policy));
    if (previous) {
      try {
        this.emit('rotated', material);
      } catch (err) {
        // A listener could not apply it (e.g. setSecureContext refused it): say so, but the
        // material stays current and renewal stays scheduled; throwing here would only surface
        // as an unhandled rejection from the timer.
        this.#report(
          new IsthmusError('CERT_INVALID', `applying the renewed certificate failed: ${describeError(err)}`, {
            cause: err,
          }),
        );
      }
    }
    return material;
  }

  #problemWith(m: TlsMaterial): string | undefined {
    const chain = splitPem(m.chainPem);
    const leaf = chain[0] ?? m.certPem;
    const mismatch = keyMismatch(parseCertificate(leaf), m.keyPem);
    if (mismatch) return mismatch;
    const verdict = verifyChain(leaf, chain.slice(1), splitPem(this.#anchorPem), new Date(this.#now()));
    return verdict.ok ? undefined : `new certificate refused: ${verdict.reason}`;
  }

  #failed(err: unknown, quietWhileFresh = false): void {
    this.#failures++;
    const current = this.#current;
    const remaining = current ? current.notAfter.getTime() - this.#now() : undefined;
    this.#schedule(retryDelay(this.#failures, remaining, this.#policy));
    if (quietWhileFresh && current && remaining !== undefined && remaining > this.#quietMargin(current))
      return;
    const state =
      remaining === undefined
        ? 'no certificate yet'
        : remaining <= 0
          ? `the current certificate EXPIRED at ${current!.notAfter.toISOString()}`
          : `the current certificate expires at ${current!.notAfter.toISOString()}`;
    const error = new IsthmusError(
      err instanceof IsthmusError ? err.code : 'IDENTITY_UNAVAILABLE',
      `certificate renewal failed (attempt ${this.#failures}; ${state}): ${describeError(err)}`,
      { cause: err },
    );
    this.#report(error);
  }

  #report(error: IsthmusError): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else process.emitWarning(error.message, { code: error.code });
  }

  /** How much lifetime must be left for an unchanged certificate to be retried without an error. */
  #quietMargin(current: TlsMaterial): number {
    const notBefore = new Date(parseCertificate(current.certPem).validFrom).getTime();
    return (current.notAfter.getTime() - notBefore) * this.#policy.quietUntilFractionLeft;
  }

  #schedule(delayMs: number): void {
    if (!this.#stopped) this.#timer.arm(delayMs, () => void this.#attempt());
  }
}
