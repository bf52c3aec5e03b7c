/**
 * The gateway's revocation list, from `--crl-file`: read at start (a malformed file stops the
 * start, with the reason) and re-read when the file changes, as kubelet swaps a ConfigMap mount. A
 * file that does not exist yet (the optional `isthmus-crl` ConfigMap not created) revokes nothing
 * until it appears. A bad update, or the file vanishing, keeps the list in force and is reported:
 * revocations are never dropped by a typo.
 */
import { readFile, stat } from 'node:fs/promises';
import { describeError, IsthmusError } from '../errors.js';
import { RevocationList } from '../identity/revocation.js';

export interface CrlWatcher {
  current(): RevocationList;
  /** False while the file has never existed. */
  present(): boolean;
  stop(): void;
}

export interface CrlWatchOptions {
  file: string;
  anchorPem: string;
  /** How often the file's mtime and size are checked. Default 10 s. */
  intervalMs?: number;
  onChange: (list: RevocationList) => void;
  onError: (err: IsthmusError) => void;
}

export async function watchCrlFile(opts: CrlWatchOptions): Promise<CrlWatcher> {
  const load = async (): Promise<{ list: RevocationList; version: string }> => {
    try {
      const version = await versionOf(opts.file);
      const list = RevocationList.fromPem(await readFile(opts.file, 'utf8'), opts.anchorPem);
      return { list, version };
    } catch (err) {
      throw new IsthmusError('CRL_INVALID', `CRL file ${opts.file}: ${describeError(err)}`, { cause: err });
    }
  };
  let { list, version } = (await exists(opts.file))
    ? await load()
    : { list: RevocationList.empty(opts.anchorPem), version: MISSING };
  /** The file version that failed to load: reported once, not at every tick. */
  let failed = '';
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    const now = await versionOf(opts.file).catch(() => MISSING);
    try {
      if (now === version || now === failed) return;
      ({ list, version } = await load());
      failed = '';
      opts.onChange(list);
    } catch (err) {
      failed = now;
      opts.onError(err as IsthmusError);
    } finally {
      busy = false;
    }
  }, opts.intervalMs ?? 10_000);
  timer.unref();
  return { current: () => list, present: () => version !== MISSING, stop: () => clearInterval(timer) };
}

const MISSING = 'missing';

function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

async function versionOf(file: string): Promise<string> {
  const s = await stat(file);
  return `${s.mtimeMs}:${s.size}:${s.ino}`;
}
