import type { Command } from 'commander';
import { registerCerts } from './certs.js';
import { registerIdentity } from './identity.js';
import { registerInstall } from './install.js';
import { registerLink } from './link.js';
import { registerSandbox } from './sandbox.js';

/** Adds every verb to the program. Verbs load their implementation lazily inside their action. */
export function registerCommands(program: Command): void {
  registerCerts(program);
  registerIdentity(program);
  registerInstall(program);
  registerLink(program);
  registerSandbox(program);
}
