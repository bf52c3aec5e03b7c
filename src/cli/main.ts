/**
 * The `isthmus` command. Each verb lives in its own module under src/cli/commands and is loaded
 * only when used, so the long-running processes (`gateway`, `controller`) start without paying
 * for the rest of the CLI.
 */
import { Command, CommanderError } from 'commander';
import { describeError, isIsthmusError } from '../errors.js';
import { registerSlimClientNode } from '../kube/client-node-slim.js';
import { VERSION } from '../version.js';
import { endOnClosedStdout } from './closed-stdout.js';
import { registerCommands } from './commands/index.js';

export async function main(argv: string[]): Promise<number> {
  const program = new Command('isthmus')
    .description('Multicluster federation gateway for Kubernetes: mirrored services, mTLS tunnels, failover.')
    .version(VERSION)
    // Needed for `certs revoke`, whose --out is its own, not `certs`'s (commander requires it on
    // every ancestor); the program has no options besides --version and --help.
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerCommands(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    const code = isIsthmusError(err) ? ` [${err.code}]` : '';
    process.stderr.write(`error${code}: ${describeError(err)}\n`);
    return 1;
  }
}

// Run when executed directly (bin/isthmus.mjs imports this module). Before any verb loads
// client-node: without its generated API (src/kube/client-node-slim.ts).
registerSlimClientNode();
endOnClosedStdout();
const exit = await main(process.argv.slice(2));
if (exit !== 0) process.exitCode = exit;
