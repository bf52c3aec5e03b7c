/**
 * The identity process's issuer, followed as its files change: kubelet updates the `isthmus-issuer`
 * Secret mount when the Secret is replaced (`isthmus certs` and a re-applied install, or
 * cert-manager renewing an issuer Certificate), and the trust-anchor ConfigMap mount during an
 * anchor rotation. Each change is validated as at start (a CA, the key matching, chained to an
 * anchor of the bundle, within its validity) before it signs anything; a bad update is refused
 * and reported, and the issuer in force keeps signing. Without this, a renewed issuer would wait
 * for a restart of the pod, and the old one would meanwhile expire under the gateways' renewals.
 * An update refused only for coming before its notBefore (cert-manager does not backdate it, and
 * nodes' clocks differ by seconds) is tried again then, not when the Secret next changes (~a day).
 */
import { readFile } from 'node:fs/promises';
import { describeError, IsthmusError } from '../errors.js';
import { filesVersion, watchFiles } from '../file-watch.js';
import type { KeyPairPem } from './ca.js';
import { certificateInfo } from './certificate-info.js';
import { loadIssuer } from './files.js';
import { anchorBundleWarnings } from './validate.js';

/**
 * The longest wait before a refused, not-yet-valid issuer is tried again: one whose notBefore is
 * further off (a clock far behind, or an issuer made ahead of time) is looked at hourly, each
 * attempt refused and reported again, until it is valid.
 */
export const MAX_NOT_YET_VALID_RETRY_MS = 3_600_000;

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
  /**
   * What does not stop signing but needs the operator, at start and at each reload: an anchor of the
   * bundle outside its validity (the old one, when step 3 of an anchor rotation is late).
   */
  onWarning?: (message: string) => void;
}

/**
 * When to try an issuer again that was refused at `nowMs` but would load at its notBefore:
 * then, or in MAX_NOT_YET_VALID_RETRY_MS if that is sooner; undefined if notBefore has passed.
 */
export function notYetValidRetryAt(notBeforeMs: number, nowMs: number): number | undefined {
  if (notBeforeMs <= nowMs) return undefined;
  return Math.min(notBeforeMs, nowMs + MAX_NOT_YET_VALID_RETRY_MS);
}

/** Loads the issuer (a bad one stops the start, with the reason) and follows its files. */
export async function watchIssuer(opts: IssuerWatchOptions): Promise<IssuerWatcher> {
  const files = [opts.anchorFile, opts.certFile, opts.keyFile];
  const since = await filesVersion(files);
  const loaded = await loadIssuer(opts);
  const warn = (anchorPem: string) => {
    for (const w of anchorBundleWarnings(anchorPem, new Date())) opts.onWarning?.(`${opts.anchorFile}: ${w}`);
  };
  warn(loaded.anchorPem);
  let issuer = loaded.issuer;
  // Followed like the issuer: what checks against the anchor (identity's CRL) reads it from here.
  let anchorPem = loaded.anchorPem;
  let refused = false;
  /** Set with each refusal: when the refused files would load (see notYetValidRetryAt). */
  let retryAtMs: number | undefined;
  const stop = watchFiles({
    files,
    since,
    intervalMs: opts.intervalMs ?? 10_000,
    apply: async () => {
      retryAtMs = undefined;
      let next: Awaited<ReturnType<typeof loadIssuer>>;
      try {
        next = await loadIssuer(opts);
      } catch (err) {
        retryAtMs = await refusedIssuerRetryAt(opts, Date.now());
        throw err;
      }
      issuer = next.issuer;
      anchorPem = next.anchorPem;
      refused = false;
      warn(next.anchorPem);
      opts.onChange(issuer);
    },
    retryAt: () => retryAtMs,
    onError: (err) => {
      refused = true;
      opts.onError(
        err instanceof IsthmusError
          ? err
          : new IsthmusError('CERT_INVALID', `issuer update: ${describeError(err)}`, { cause: err }),
      );
    },
  });
  return { current: () => issuer, anchorPem: () => anchorPem, refused: () => refused, stop };
}

/**
 * When the issuer files, refused at `nowMs`, are worth trying again: at the issuer's notBefore if
 * that is all that is wrong with them (they load as of then), else undefined (when they change).
 */
export async function refusedIssuerRetryAt(
  opts: IssuerFiles & Pick<IssuerWatchOptions, 'scope'>,
  nowMs: number,
): Promise<number | undefined> {
  try {
    const notBefore = certificateInfo(await readFile(opts.certFile, 'utf8')).notBefore;
    if (notBefore.getTime() <= nowMs) return undefined;
    await loadIssuer({ ...opts, at: notBefore });
    return notYetValidRetryAt(notBefore.getTime(), nowMs);
  } catch {
    return undefined; // refused for more than its time: tried again when the files change
  }
}
