/**
 * `isthmus identity --crl-file`: the gateways' CRL file, followed the same way (crl-watch.ts), and
 * after each load its serving certificate checked against it (serving-revocation.ts). Unlike a
 * gateway, identity serves on a file it cannot use (logged as an error; nothing revoked until a
 * good one comes): the list only ever replaces its own certificate, and a crash loop on it would
 * stop Certify for every gateway of the cluster. The checks start once there is a server to check.
 */
import { describeError } from '../errors.js';
import { type ReloadableCrlWatcher, watchCrlFile } from './crl-watch.js';
import {
  type ServingCheck,
  type ServingRevocationOptions,
  servingCheckLine,
  servingRevocationCheck,
} from './serving-revocation.js';

/** One line of the identity log; `error` lines go to stderr. */
export type IdentityLog = (line: string, error?: boolean) => void;

export interface CrlFollower {
  crl: ReloadableCrlWatcher;
  /** Checks the serving certificate now and after each later load. */
  serve(opts: Omit<ServingRevocationOptions, 'crl'>): Promise<void>;
  /**
   * Checks again, e.g. once a renewal from a reloaded issuer is in force; before `serve`, nothing
   * but the file loaded again when the anchor changed since it was.
   */
  recheck(): Promise<void>;
  /**
   * Whether the file on disk is one identity refused (at start, or as an update) and no good one has
   * loaded since: the metrics say so for as long as it lasts (isthmus_identity_crl_file_refused).
   */
  refused(): boolean;
  stop(): void;
}

export async function followCrl(opts: {
  file: string;
  /**
   * The trust anchor (bundle), read at each load and check: identity's is followed (watchIssuer),
   * and a CRL under the anchor a rotation brings must not be refused for the one it started with.
   */
  anchorPem: string | (() => string);
  intervalMs?: number;
  log: IdentityLog;
  /** Each check's outcome, logged or not. */
  onCheck?: (check: ServingCheck) => void;
}): Promise<CrlFollower> {
  const given = opts.anchorPem;
  const anchorPem = typeof given === 'string' ? () => given : given;
  let check: (() => Promise<ServingCheck>) | undefined;
  let refused = false;
  /** The anchor the file was last loaded against. */
  let loadedWith = anchorPem();
  /** The file again when the anchor was reloaded: the file itself may not change after that. */
  const followAnchor = async (): Promise<void> => {
    const anchor = anchorPem();
    if (anchor === loadedWith) return;
    loadedWith = anchor;
    try {
      if (!(await crl.reload())) return;
      refused = false;
      opts.log(
        `identity: CRL reloaded from ${opts.file} for the reloaded trust anchor: ${crl.current().size()} revoked`,
      );
    } catch (err) {
      refused = true;
      opts.log(
        `identity: CRL refused under the reloaded trust anchor, the list in force stays: ${describeError(err)}`,
        true,
      );
    }
  };
  const recheck = async (): Promise<void> => {
    await followAnchor();
    if (!check) return;
    try {
      const done = await check();
      opts.onCheck?.(done);
      const line = servingCheckLine(done);
      if (line) opts.log(line.line, line.error);
    } catch (err) {
      opts.log(`identity: serving certificate not checked against the CRL: ${describeError(err)}`, true);
    }
  };
  const crl = await watchCrlFile({
    file: opts.file,
    anchorPem: () => {
      loadedWith = anchorPem();
      return loadedWith;
    },
    ...(opts.intervalMs === undefined ? {} : { intervalMs: opts.intervalMs }),
    onChange: (list) => {
      refused = false;
      opts.log(`identity: CRL reloaded from ${opts.file}: ${list.size()} revoked`);
      void recheck();
    },
    onError: (err) => {
      refused = true;
      opts.log(`identity: CRL update refused, the list in force stays: ${err.message}`, true);
    },
    onInvalidAtStart: (err) => {
      refused = true;
      opts.log(`identity: CRL refused, nothing is revoked until a good one appears: ${err.message}`, true);
    },
  });
  if (crl.present()) opts.log(`identity: CRL loaded from ${opts.file}: ${crl.current().size()} revoked`);
  else if (!refused)
    opts.log(`identity: no CRL file ${opts.file} (yet): nothing is revoked until it appears`);
  return {
    crl,
    serve: (serving) => {
      check = servingRevocationCheck({ ...serving, crl: crl.current });
      return recheck();
    },
    recheck,
    refused: () => refused,
    stop: () => crl.stop(),
  };
}
