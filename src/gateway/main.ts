/**
 * Standalone entry of the gateway process: `node --import tsx src/gateway/main.ts --cluster west …`
 * (flags in config.ts; environment variables fill in what flags leave out). The `isthmus gateway`
 * command does the same through commander. SIGTERM/SIGINT stop it cleanly: listeners close, watches
 * end, and the process exits 0 once nothing is left; a second signal exits at once.
 */
import { pino } from 'pino';
import { describeError, isIsthmusError } from '../errors.js';
import { gatewayFlagsFromArgv, gatewayOptionsFromFlags } from './config.js';
import { runGateway } from './run-gateway.js';

/** Kubernetes' default terminationGracePeriodSeconds is 30 s; finish well inside it. */
const STOP_DEADLINE_MS = 20_000;

async function main(): Promise<void> {
  const log = pino({ name: 'isthmus-gateway', level: process.env.ISTHMUS_LOG_LEVEL ?? 'info' });
  let config: ReturnType<typeof gatewayOptionsFromFlags>;
  try {
    config = gatewayOptionsFromFlags(gatewayFlagsFromArgv(process.argv.slice(2)), process.env);
  } catch (err) {
    process.stderr.write(`${describeError(err)}\n`);
    process.exitCode = isIsthmusError(err, 'USAGE') ? 2 : 1;
    return;
  }

  const startup = new AbortController();
  let stopGateway: (() => Promise<void>) | undefined;
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) process.exit(1);
    signalled = true;
    log.info({ signal }, 'stopping');
    startup.abort();
    const deadline = setTimeout(() => {
      log.error('stop deadline passed; exiting');
      process.exit(1);
    }, STOP_DEADLINE_MS);
    deadline.unref();
    void stopGateway?.();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const gateway = await runGateway(config, { logger: log, signal: startup.signal });
  stopGateway = gateway.stop;
  if (signalled) await gateway.stop();
}

main().catch((err: unknown) => {
  process.stderr.write(`isthmus gateway: ${describeError(err)}\n`);
  process.exitCode = 1;
});
