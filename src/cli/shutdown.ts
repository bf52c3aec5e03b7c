/** Signal handling shared by the long-running verbs. */

/** Resolves on the first SIGINT or SIGTERM: long-running verbs then close what they opened. */
export function waitForShutdown(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** Kubernetes' default terminationGracePeriodSeconds is 30 s: finish well inside it. */
export const STOP_DEADLINE_MS = 20_000;

/**
 * Starts a service, waits for SIGINT/SIGTERM, stops it. A signal during start-up aborts the start;
 * a second signal, or a stop that overruns the deadline, exits at once with status 1.
 */
export async function runUntilSignal(
  start: (signal: AbortSignal) => Promise<{ stop(): Promise<void> }>,
  deadlineMs = STOP_DEADLINE_MS,
): Promise<void> {
  const startup = new AbortController();
  let signalled = false;
  let stopRequested: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    stopRequested = resolve;
  });
  const onSignal = () => {
    if (signalled) process.exit(1);
    signalled = true;
    startup.abort();
    setTimeout(() => {
      process.stderr.write('stop deadline passed; exiting\n');
      process.exit(1);
    }, deadlineMs).unref();
    stopRequested();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const service = await start(startup.signal);
    await stopped;
    await service.stop();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
