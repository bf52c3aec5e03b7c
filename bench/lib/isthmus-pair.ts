/**
 * The Isthmus gateway pair as the product runs it: two gateway processes started from the built
 * JavaScript (`dist/`, so tsx is not in the measured path), each watching its own sandbox API
 * server (those live in the bench process: they are idle while traffic flows). West exports the
 * nginx Service; east holds its mirror, whose egress port leads through the tunnel to west.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type GatewayFlags, gatewayArgvFromFlags } from '../../src/gateway/config.js';
import {
  createMirror,
  endpointSlice,
  exportedService,
  freeEgressPort,
  link,
  mirrorService,
  namespace,
} from '../../src/gateway/e2e/fixtures.js';
import { GATEWAY_NODE_FLAGS } from '../../src/gateway/process-flags.js';
import { TEST_TRUST_DOMAIN } from '../../src/identity/testing.js';
import { KubeClient } from '../../src/kube/client.js';
import { SYSTEM_NAMESPACE } from '../../src/kube/keys.js';
import { R } from '../../src/kube/resources.js';
import { startSandbox } from '../../src/sandbox/index.js';
import type { BenchCerts, SideCerts } from './certs.js';
import { type Managed, startProcess, waitFor } from './procs.js';
import { freePort } from './sockets.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const GATEWAY_MAIN = join(REPO, 'dist', 'gateway', 'main.js');

const NS = 'bench';
const SERVICE = 'nginx';
const SERVICE_PORT = 80;

export interface IsthmusPairOptions {
  dir: string;
  certs: BenchCerts;
  eastHost: string;
  westHost: string;
  backend: { host: string; port: number };
  /** Extra node flags for both gateway processes (e.g. `--cpu-prof`), after GATEWAY_NODE_FLAGS. */
  nodeArgs?: string[];
  /** The gateway entry point; default GATEWAY_MAIN (an A/B run passes a snapshot of dist/). */
  main?: string;
  /** The node binary that runs both gateways; default this process's own. */
  node?: string;
}

export interface IsthmusPair {
  east: Managed;
  west: Managed;
  /** Where clients connect: east's egress listener for the nginx mirror. */
  egress: { host: string; port: number };
  /** Admin base URLs (`/metrics`) of east and west. */
  admin: string[];
  stop(): Promise<void>;
}

export async function startIsthmusPair(o: IsthmusPairOptions): Promise<IsthmusPair> {
  const main = o.main ?? GATEWAY_MAIN;
  if (!existsSync(main)) throw new Error(`${main} missing: run npm run build first`);
  const cleanups: Array<() => unknown> = [];
  const stop = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c();
  };
  try {
    const cluster = async (name: 'east' | 'west', host: string) => {
      const sandbox = await startSandbox({ name, host, allowLoopbackEndpoints: true });
      cleanups.push(() => sandbox.close());
      const kubeconfigFile = join(o.dir, `kubeconfig-${name}`);
      await writeFile(kubeconfigFile, sandbox.kubeconfig());
      const kube = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
      cleanups.push(() => kube.close());
      return { kube, kubeconfigFile };
    };
    const [east, west] = await Promise.all([cluster('east', o.eastHost), cluster('west', o.westHost)]);

    await west.kube.create(R.namespaces, namespace(NS));
    await west.kube.create(R.namespaces, namespace(SYSTEM_NAMESPACE));
    await west.kube.create(R.links, link('east', o.eastHost));
    await west.kube.create(R.services, exportedService(NS, SERVICE, SERVICE_PORT));
    await west.kube.create(R.endpointSlices, endpointSlice(NS, SERVICE, o.backend.host, o.backend.port));
    await east.kube.create(R.namespaces, namespace(NS));
    await east.kube.create(R.namespaces, namespace(SYSTEM_NAMESPACE));

    const ports = {
      east: { ingress: await freePort(o.eastHost), admin: await freePort(o.eastHost) },
      west: { ingress: await freePort(o.westHost), admin: await freePort(o.westHost) },
    };
    const spawnGateway = (
      name: 'east' | 'west',
      kubeconfig: string,
      host: string,
      certs: SideCerts,
    ): Managed => {
      const flags: GatewayFlags = {
        cluster: name,
        trustDomain: TEST_TRUST_DOMAIN,
        kubeconfig,
        ingressHost: host,
        ingressPort: ports[name].ingress,
        adminHost: host,
        adminPort: ports[name].admin,
        egressHost: host,
        certFile: certs.certFile,
        keyFile: certs.keyFile,
        caFile: o.certs.caFile,
      };
      const proc = startProcess(
        `isthmus-${name}`,
        o.node ?? process.execPath,
        // Started as the product starts them: with the gateway's V8 flags (src/gateway/process-flags.ts).
        [...GATEWAY_NODE_FLAGS, ...(o.nodeArgs ?? []), main, ...gatewayArgvFromFlags(flags)],
        { cwd: o.dir, env: { ...process.env, ISTHMUS_LOG_LEVEL: 'warn', NODE_ENV: 'production' } },
      );
      cleanups.push(() => proc.stop(10_000));
      return proc;
    };
    const eastProc = spawnGateway('east', east.kubeconfigFile, o.eastHost, o.certs.east);
    const westProc = spawnGateway('west', west.kubeconfigFile, o.westHost, o.certs.west);
    for (const [proc, host, port] of [
      [eastProc, o.eastHost, ports.east.admin],
      [westProc, o.westHost, ports.west.admin],
    ] as const) {
      await waitFor(
        `${proc.name} /ready`,
        async () => {
          if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited: ${proc.output()}`);
          return (await fetch(`http://${host}:${port}/ready`, { signal: AbortSignal.timeout(2_000) })).ok;
        },
        30_000,
      );
    }

    // The egress routes a mirror only for a linked cluster whose Link names the remote gateway, on a
    // port inside the egress range that the mirror controller's slice lists (docs/design.md, "Which
    // mirror routes the egress admits").
    await east.kube.create(R.links, link('west', o.westHost, ports.west.ingress));
    const egressPort = await freeEgressPort(o.eastHost);
    await createMirror(
      east.kube,
      mirrorService({
        ns: NS,
        service: SERVICE,
        cluster: 'west',
        port: SERVICE_PORT,
        egressPort,
        gateway: `${o.westHost}:${ports.west.ingress}`,
      }),
    );
    return {
      east: eastProc,
      west: westProc,
      egress: { host: o.eastHost, port: egressPort },
      admin: [`http://${o.eastHost}:${ports.east.admin}`, `http://${o.westHost}:${ports.west.admin}`],
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
