/**
 * Following files that kubelet updates in place: a Secret or ConfigMap volume is swapped
 * atomically (a new `..data` directory, then one symlink rename), which `fs.watch` reports
 * unreliably. So the files' (mtime, size, inode) are polled; after a change, `apply` reads,
 * validates and installs the new content. A refused version is reported once and retried when a
 * file changes again, or at the time the caller's `retryAt` names (a certificate that arrived
 * before its notBefore): a bad update never replaces what is in force.
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
  /**
   * When (epoch ms) to try the version `apply` just refused with `err` again though no file has
   * changed; undefined, or no `retryAt`: not until one does.
   */
  retryAt?: (err: unknown) => number | undefined;
  /** The clock `retryAt` is compared with (epoch ms). Default Date.now. */
  now?: () => number;
}

/** What a watch has seen: the version in force, and the last one refused. */
export interface WatchState {
  version: string;
  refused?: { version: string; retryAtMs?: number | undefined };
}

/** Whether the files at version `current` are to be applied at `nowMs`. */
export function dueForApply(state: WatchState, current: string, nowMs: number): boolean {
  if (current === state.version) return false;
  if (current !== state.refused?.version) return true;
  const at = state.refused.retryAtMs;
  return at !== undefined && nowMs >= at;
}

/** Starts polling; returns the function that stops it. The timer never keeps the process alive. */
export function watchFiles(opts: WatchFilesOptions): () => void {
  const state: WatchState = { version: opts.since };
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      const now = await filesVersion(opts.files);
      if (!dueForApply(state, now, (opts.now ?? Date.now)())) return;
      try {
        await opts.apply();
        state.version = now;
        delete state.refused;
      } catch (err) {
        state.refused = { version: now, retryAtMs: opts.retryAt?.(err) };
        opts.onError(err);
      }
    } finally {
      busy = false;
    }
  }, opts.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
