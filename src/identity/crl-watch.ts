/**
 * A revocation list followed from `--crl-file`, for the gateway (its peers, and the identity
 * service it sends its token to) and for `isthmus identity` (its own serving certificate): read at
 * start (a malformed file stops the start, with the reason) and re-read when the file changes, as
 * kubelet swaps a ConfigMap mount. A file that does not exist yet (the optional `isthmus-crl`
 * ConfigMap not created) revokes nothing until it appears. A bad update, or the file vanishing,
 * keeps the list in force and is reported: revocations are never dropped by a typo.
 */
import { readFile } from 'node:fs/promises';
import { describeError, IsthmusError } from '../errors.js';
import { filesVersion, MISSING_FILE, watchFiles } from '../file-watch.js';
import { RevocationList } from './revocation.js';

export interface CrlWatcher {
  current(): RevocationList;
  /** False while the file has never existed. */
  present(): boolean;
  stop(): void;
}

/** A watch that can be told to load the file again although it did not change. */
export interface ReloadableCrlWatcher extends CrlWatcher {
  /**
   * Loads the file now, as after a change, e.g. once the anchor it is checked against was
   * reloaded; false when there is no file; throws (CRL_INVALID) when it cannot be used, keeping
   * the list in force.
   */
  reload(): Promise<boolean>;
}

export interface CrlWatchOptions {
  file: string;
  /** The trust anchor (bundle) each load is checked against; a function for one that is followed. */
  anchorPem: string | (() => string);
  /**
   * The time a reload is judged at: a CA whose CRL goes from the file must have expired by then
   * (RevocationList.rollbackFrom), and the clock a file refused until then is tried again by.
   * Default the clock.
   */
  now?: () => Date;
  /** How often the file's mtime and size are checked. Default 10 s. */
  intervalMs?: number;
  onChange: (list: RevocationList) => void;
  onError: (err: IsthmusError) => void;
  /**
   * A file that cannot be used at start: without this, the start fails (a gateway refuses to run
   * with a list it cannot read, fail-closed); with it, nothing is revoked until a good file comes.
   */
  onInvalidAtStart?: (err: IsthmusError) => void;
}

/** How long after a dropped CA's notAfter a file refused for dropping it is tried again. */
export const RETRY_AFTER_EXPIRY_MS = 1000;

export async function watchCrlFile(opts: CrlWatchOptions): Promise<ReloadableCrlWatcher> {
  const given = opts.anchorPem;
  const anchorPem = typeof given === 'string' ? () => given : given;
  const load = async (): Promise<RevocationList> => {
    try {
      return RevocationList.fromPem(await readFile(opts.file, 'utf8'), anchorPem());
    } catch (err) {
      throw new IsthmusError('CRL_INVALID', `CRL file ${opts.file}: ${describeError(err)}`, { cause: err });
    }
  };
  const since = await filesVersion([opts.file]);
  let present = since !== MISSING_FILE;
  let list = RevocationList.empty(anchorPem());
  if (present) {
    try {
      list = await load();
    } catch (err) {
      if (!opts.onInvalidAtStart) throw err;
      opts.onInvalidAtStart(err as IsthmusError);
      present = false;
    }
  }
  // A reload (a new anchor) and the watcher's apply (a new file) may overlap: the load started last
  // is the one in force, or a slow read of the old file would put the older list back (a review's
  // finding: revocations dropped until the file changed again).
  // A reload may not put back an older CRL than the one in force, nor drop the CRL of a CA still
  // usable (RevocationList.rollbackFrom): checked when it would apply, against the list in force
  // then. Refused like a bad file, it keeps that list; a start has nothing in force and takes what
  // it finds.
  // A drop is refused only while the dropped CA is usable: the same file is tried again once the
  // first of them has expired (a second after its notAfter), without waiting for it to change.
  const now = () => opts.now?.() ?? new Date();
  const retryAt = new WeakMap<object, number>();
  const loadInOrder = startedLastWins<RevocationList>((next) => {
    const refusal = next.refusalFrom(list, now());
    if (refusal) {
      const err = new IsthmusError('CRL_INVALID', `CRL file ${opts.file}: refused: ${refusal.reason}`);
      if (refusal.retryAt) retryAt.set(err, refusal.retryAt.getTime() + RETRY_AFTER_EXPIRY_MS);
      throw err;
    }
    list = next;
    present = true;
  });
  const stop = watchFiles({
    files: [opts.file],
    since,
    intervalMs: opts.intervalMs ?? 10_000,
    apply: async () => {
      await loadInOrder(load);
      opts.onChange(list);
    },
    onError: (err) => opts.onError(err as IsthmusError),
    retryAt: (err) => (typeof err === 'object' && err !== null ? retryAt.get(err) : undefined),
    now: () => now().getTime(),
  });
  const reload = async (): Promise<boolean> => {
    if ((await filesVersion([opts.file])) === MISSING_FILE) return false;
    await loadInOrder(load);
    return true;
  };
  return { current: () => list, present: () => present, reload, stop };
}

/**
 * Runs loads that may overlap and applies what each gives, unless a load started later has already
 * been applied: the last one started is the one in force, whichever finishes first.
 */
export function startedLastWins<T>(apply: (value: T) => void): (load: () => Promise<T>) => Promise<void> {
  let started = 0;
  let applied = 0;
  return async (load) => {
    const seq = ++started;
    const value = await load();
    if (seq < applied) return;
    applied = seq;
    apply(value);
  };
}
