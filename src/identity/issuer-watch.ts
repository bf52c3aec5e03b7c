/**
 * The identity process's issuer, followed as its files change: kubelet updates the `isthmus-issuer`
 * Secret mount when the Secret is replaced (`isthmus certs` and a re-applied install, or
 * cert-manager renewing an issuer Certificate), and the trust-anchor ConfigMap mount during an
 * anchor rotation. Each change is validated as at start (a CA, the key matching, chained to an
 * anchor of the bundle, within its validity) before it signs anything; a bad update is refused
 * and reported, and the issuer in force keeps signing. Without this, a renewed issuer would wait
 * for a restart of the pod, and the old one would meanwhile expire under the gateways' renewals.
 */
import { describeError, IsthmusError } from '../errors.js';
import { filesVersion, watchFiles } from '../file-watch.js';
import type { KeyPairPem } from './ca.js';
import { loadIssuer } from './files.js';

export interface IssuerFiles {
  anchorFile: string;
  certFile: string;
  keyFile: string;
}

export interface IssuerWatcher {
  current(): KeyPairPem;
  /** The trust anchor bundle as validated at start (the CRL watch verifies against it, as a gateway's does). */
  anchorPem(): string;
  /**
   * Whether the files on disk are ones identity refused as an update, and none has loaded since:
   * the issuer in force signs on, but a restart would load these files and fail on them, so the
   * metrics say so for as long as it lasts (isthmus_identity_issuer_file_refused).
   */
  refused(): boolean;
  stop(): void;
}

export interface IssuerWatchOptions extends IssuerFiles {
  /** The cluster this identity serves: an issuer named for another is refused, at start and on update. */
  scope?: { cluster: string; trustDomain: string };
  /** How often the files are looked at. Default 10 s (kubelet's own sync is ~1 min). */
  intervalMs?: number;
  onChange: (issuer: KeyPairPem) => void;
  onError: (err: IsthmusError) => void;
}

/** Loads the issuer (a bad one stops the start, with the reason) and follows its files. */
export async function watchIssuer(opts: IssuerWatchOptions): Promise<IssuerWatcher> {
  const files = [opts.anchorFile, opts.certFile, opts.keyFile];
  const since = await filesVersion(files);
  const loaded = await loadIssuer(opts);
  let issuer = loaded.issuer;
  let refused = false;
  const stop = watchFiles({
    files,
    since,
    intervalMs: opts.intervalMs ?? 10_000,
    apply: async () => {
      issuer = (await loadIssuer(opts)).issuer;
      refused = false;
      opts.onChange(issuer);
    },
    onError: (err) => {
      refused = true;
      opts.onError(
        err instanceof IsthmusError
          ? err
          : new IsthmusError('CERT_INVALID', `issuer update: ${describeError(err)}`, { cause: err }),
      );
    },
  });
  return { current: () => issuer, anchorPem: () => loaded.anchorPem, refused: () => refused, stop };
}
