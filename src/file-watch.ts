/**
 * Following files that kubelet updates in place: a Secret or ConfigMap volume is swapped
 * atomically (a new `..data` directory, then one symlink rename), which `fs.watch` reports
 * unreliably. So the files' (mtime, size, inode) are polled; after a change, `apply` reads,
 * validates and installs the new content. A refused version is reported once and retried only when
 * a file changes again: a bad update never replaces what is in force.
 */
import { stat } from 'node:fs/promises';

export const MISSING_FILE = 'missing';

/** One string that changes whenever any of the files is replaced, rewritten, created or removed. */
export async function filesVersion(files: readonly string[]): Promise<string> {
  const parts = await Promise.all(
    files.map((f) =>
      stat(f).then(
        (s) => `${s.mtimeMs}:${s.size}:${s.ino}`,
        () => MISSING_FILE,
      ),
    ),
  );
  return parts.join('|');
}

export interface WatchFilesOptions {
  files: readonly string[];
  /** The version in force (from `filesVersion`) when watching starts. */
  since: string;
  /** How often the files are looked at. */
  intervalMs: number;
  /** Reads, validates and installs the new content; throws to refuse it. */
  apply: () => Promise<void>;
  onError: (err: unknown) => void;
}

/** Starts polling; returns the function that stops it. The timer never keeps the process alive. */
export function watchFiles(opts: WatchFilesOptions): () => void {
  let version = opts.since;
  /** The version that failed to apply: reported once, not at every tick. */
  let failed = '';
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      const now = await filesVersion(opts.files);
      if (now === version || now === failed) return;
      try {
        await opts.apply();
        version = now;
        failed = '';
      } catch (err) {
        failed = now;
        opts.onError(err);
      }
    } finally {
      busy = false;
    }
  }, opts.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
