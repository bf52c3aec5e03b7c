import type { Command } from 'commander';
import { registerAllow } from './allow.js';
import { registerCerts } from './certs.js';
import { registerCheck } from './check.js';
import { registerController } from './controller.js';
import { registerFederated } from './federated.js';
import { registerGateway } from './gateway.js';
import { registerGateways } from './gateways.js';
import { registerIdentity } from './identity.js';
import { registerInstall } from './install.js';
import { registerLab } from './lab.js';
import { registerLink } from './link.js';
import { registerRoutes } from './routes.js';
import { registerSandbox } from './sandbox.js';
import { registerStatus } from './status.js';
import { registerUninstall } from './uninstall.js';
import { registerUnlink } from './unlink.js';
import { registerUpgrade } from './upgrade.js';
import { registerVersion } from './version.js';

/** Adds every verb to the program. Verbs load their implementation lazily inside their action. */
export function registerCommands(program: Command): void {
  registerLab(program);
  registerCerts(program);
  registerInstall(program);
  registerUpgrade(program);
  registerAllow(program);
  registerLink(program);
  registerGateway(program);
  registerController(program);
  registerIdentity(program);
  registerSandbox(program);
  registerUnlink(program);
  registerUninstall(program);
  registerCheck(program);
  registerGateways(program);
  registerRoutes(program);
  registerStatus(program);
  registerFederated(program);
  registerVersion(program);
}
