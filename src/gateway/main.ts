/**
 * Standalone entry of the gateway process: `node --import tsx src/gateway/main.ts --cluster west …`
 * (flags in config.ts; environment variables fill in what flags leave out), the same as
 * `isthmus gateway`. SIGTERM/SIGINT stop it (after the drain of --drain-delay-ms and
 * --shutdown-grace-ms, if set; listeners close, watches end, exit 0); a second signal exits at once.
 * SIGHUP re-reads the certificate (e.g. after the files were replaced).
 */
import { describeError, isIsthmusError } from '../errors.js';
import { registerSlimClientNode } from '../kube/client-node-slim.js';
import type { GatewayConfig } from './config.js';

async function main(): Promise<void> {
  // Before anything loads client-node: without its generated API (src/kube/client-node-slim.ts).
  registerSlimClientNode();
  const { gatewayFlagsFromArgv, gatewayOptionsFromFlags } = await import('./config.js');
  const { serveGateway } = await import('./serve.js');
  let config: GatewayConfig;
  try {
    config = gatewayOptionsFromFlags(gatewayFlagsFromArgv(process.argv.slice(2)), process.env);
  } catch (err) {
    process.stderr.write(`${describeError(err)}\n`);
    process.exitCode = isIsthmusError(err, 'USAGE') ? 2 : 1;
    return;
  }
  await serveGateway(config);
}

main().catch((err: unknown) => {
  process.stderr.write(`isthmus gateway: ${describeError(err)}\n`);
  process.exitCode = 1;
});
