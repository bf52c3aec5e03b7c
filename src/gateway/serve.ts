/**
 * A gateway as a long-running process, shared by `isthmus gateway` and `src/gateway/main.ts`: it
 * runs until SIGTERM or SIGINT, which start the graceful shutdown of `--drain-delay-ms` /
 * `--shutdown-grace-ms` (a second signal exits at once). SIGHUP re-reads the certificate, e.g.
 * after the files of `--cert-file`/`--key-file` were replaced. Process-wide tuning that an embedded
 * gateway must not impose on its host process is applied here, not in `runGateway`.
 */
import { type Logger, pino } from 'pino';
import { runUntilSignal, STOP_DEADLINE_MS } from '../cli/shutdown.js';
import { describeError } from '../errors.js';
import { installCheapAsyncResourceBind } from './async-resource-bind.js';
import type { GatewayConfig } from './config.js';
import { runGateway } from './run-gateway.js';

export function gatewayLogger(): Logger {
  return pino({ name: 'isthmus-gateway', level: process.env.ISTHMUS_LOG_LEVEL ?? 'info' });
}

/**
 * Runs the gateway until a signal. A start that fails (a CRL file it cannot use, an unreadable
 * anchor), or a stop that does, is logged as one fatal JSON line like every other line of the
 * gateway, not as the CLI's plain `error [CODE]: …`, and sets exit status 1; the promise then
 * resolves, so the caller prints nothing more.
 */
export async function serveGateway(config: GatewayConfig, log: Logger = gatewayLogger()): Promise<void> {
  installCheapAsyncResourceBind(); // one AsyncResource.bind per tunnel (src/gateway/async-resource-bind.ts)
  try {
    await serveUntilSignal(config, log);
  } catch (err) {
    log.fatal(
      { err: describeError(err), code: (err as { code?: unknown }).code },
      'gateway stopped on an error',
    );
    process.exitCode = 1;
  }
}

function serveUntilSignal(config: GatewayConfig, log: Logger): Promise<void> {
  return runUntilSignal(
    async (signal) => {
      const gateway = await runGateway(config, { logger: log, signal });
      const onHangup = (): void => {
        gateway.renewCertificates().then(
          (renewed) => log.info({ renewed }, 'certificate re-read on SIGHUP'),
          (err: unknown) => log.error({ err: describeError(err) }, 'certificate re-read failed'),
        );
      };
      process.on('SIGHUP', onHangup);
      return {
        stop: async () => {
          process.off('SIGHUP', onHangup);
          await gateway.shutdown();
        },
      };
    },
    // The drain may take the whole grace period; closing after it has the usual deadline.
    config.shutdown.graceMs + STOP_DEADLINE_MS,
  );
}
