/**
 * A reader that stops reading (`isthmus lab status | head`) closes the pipe, and the next write to
 * stdout fails with EPIPE, emitted as an 'error' event that nothing else listens to: an unhandled
 * error and a stack trace. Other command-line tools end on SIGPIPE there; so does the CLI, quietly
 * and with status 0, since what it had left to say is not wanted.
 *
 * A command that must clean up before it ends (`lab up`, which runs processes) registers with
 * `onClosedStdout` instead, and ends as it ends on a signal. (Not by listening for a real SIGPIPE:
 * a listener would have the kernel's SIGPIPE delivered for every write to any closed socket, which
 * Node otherwise ignores.) Either way, what is written to stdout afterwards is dropped.
 */
import type { EventEmitter } from 'node:events';

const hooks = new Set<() => void>();

/** Calls `hook` instead of ending the process when stdout's reader goes away; returns the undo. */
export function onClosedStdout(hook: () => void): () => void {
  hooks.add(hook);
  return () => {
    hooks.delete(hook);
  };
}

export function endOnClosedStdout(
  stdout: EventEmitter = process.stdout,
  exit: (code: number) => void = (code) => process.exit(code),
): void {
  let closed = false;
  stdout.on('error', (err: NodeJS.ErrnoException) => {
    // Once closed, every later write fails too (EPIPE, or the stream destroyed): nothing to say.
    if (closed) return;
    if (err.code !== 'EPIPE') throw err;
    closed = true;
    if (hooks.size === 0) exit(0);
    else for (const hook of [...hooks]) hook();
  });
}
