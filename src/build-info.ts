/**
 * `isthmus_build_info{version, node_version}` = 1, the Prometheus convention for what a process
 * runs: a fleet of clusters mid-upgrade shows which gateways and controllers run which version
 * (`count by (version) (isthmus_build_info)`).
 */
import { Gauge } from 'prom-client';
import { perRegistry } from './per-registry.js';
import { VERSION } from './version.js';

export const registerBuildInfo = perRegistry((registers): Gauge<'version' | 'node_version'> => {
  const info = new Gauge({
    name: 'isthmus_build_info',
    help: 'Always 1: the Isthmus version and the Node.js version this process runs',
    labelNames: ['version', 'node_version'],
    registers,
  });
  info.set({ version: VERSION, node_version: process.versions.node }, 1);
  return info;
});
