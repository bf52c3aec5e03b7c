/**
 * Standalone entry of the gateway process: `node --import tsx src/gateway/main.ts --cluster west …`
 * (flags in config.ts; environment variables fill in what flags leave out), the same as
 * `isthmus gateway`. SIGTERM/SIGINT stop it cleanly (listeners close, watches end, exit 0); a second
 * signal exits at once. SIGHUP re-reads the certificate (e.g. after the files were replaced).
 */
import { pino } from 'pino';
import { runUntilSignal } from '../cli/shutdown.js';
import { describeError, isIsthmusError } from '../errors.js';
import { type GatewayConfig, gatewayFlagsFromArgv, gatewayOptionsFromFlags } from './config.js';
import { runGateway } from './run-gateway.js';

async function main(): Promise<void> {
  const log = pino({ name: 'isthmus-gateway', level: process.env.ISTHMUS_LOG_LEVEL ?? 'info' });
  let config: GatewayConfig;
  try {
    config = gatewayOptionsFromFlags(gatewayFlagsFromArgv(process.argv.slice(2)), process.env);
  } catch (err) {
    process.stderr.write(`${describeError(err)}\n`);
    process.exitCode = isIsthmusError(err, 'USAGE') ? 2 : 1;
    return;
  }
  await runUntilSignal(async (signal) => {
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
        await gateway.stop();
      },
    };
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`isthmus gateway: ${describeError(err)}\n`);
  process.exitCode = 1;
});
