import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { IsthmusError } from '../../errors.js';
import { waitForShutdown } from '../shutdown.js';

export function registerSandbox(program: Command): void {
  program
    .command('sandbox')
    .description(
      'Run strict in-process Kubernetes API servers (one per cluster) for tests and labs on machines without Docker',
    )
    .option('--clusters <names>', 'comma-separated cluster names', 'east,west')
    .option(
      '--kubeconfig <path>',
      'where to write a kubeconfig with one context per cluster',
      'sandbox.kubeconfig',
    )
    .option(
      '--host <address>',
      "the address every cluster listens on, each on a free port (default: 127.0.1.1, 127.0.2.1, …, one per cluster); with --port, the first cluster's, each next one on the next /24",
    )
    .option(
      '--port <port>',
      'the port every cluster listens on, each on its own address (a restarted cluster keeps its URL; default: a free one)',
    )
    .option('--allow-loopback-endpoints', 'admit loopback endpoint addresses (single-host labs only)', false)
    .action(
      async (opts: {
        clusters: string;
        kubeconfig: string;
        host?: string;
        port?: string;
        allowLoopbackEndpoints: boolean;
      }) => {
        const names = parseClusterList(opts.clusters);
        const hosts = sandboxHosts(names.length, opts.host, opts.port !== undefined);
        const port = opts.port === undefined ? undefined : parsePort(opts.port);
        const { startSandbox, mergeKubeconfigs } = await import('../../sandbox/index.js');
        const sandboxes = [];
        for (const [i, name] of names.entries()) {
          sandboxes.push(
            await startSandbox({
              name,
              host: hosts[i],
              ...(port === undefined ? {} : { port }),
              allowLoopbackEndpoints: opts.allowLoopbackEndpoints,
            }),
          );
        }
        const path = resolve(opts.kubeconfig);
        await writeFile(path, mergeKubeconfigs(sandboxes), { mode: 0o600 });
        for (const s of sandboxes) process.stdout.write(`cluster ${s.name}: ${s.url}\n`);
        process.stdout.write(
          `kubeconfig: ${path}\n  kubectl --kubeconfig ${path} --context ${names[0]} get ns\n`,
        );
        await waitForShutdown();
        await Promise.all(sandboxes.map((s) => s.close()));
      },
    );
}

/** `east,west` → ['east', 'west'], each a valid DNS-1123 label, no duplicates. */
export function parseClusterList(text: string): string[] {
  const names = text
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  const bad = names.filter((n) => !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(n));
  if (names.length === 0 || bad.length > 0) {
    throw new IsthmusError('USAGE', `invalid cluster name(s): ${bad.join(', ') || '(none given)'}`, {
      terminal: true,
    });
  }
  if (new Set(names).size !== names.length) throw new IsthmusError('USAGE', 'cluster names must be unique');
  return names;
}

/**
 * Where each cluster listens. Without --host, one address each (127.0.1.1, 127.0.2.1, …, as the
 * lab's `--base` spreads its clusters). With --host and no --port, every cluster on that address,
 * each on a free port (what --host always did: 127.0.0.1 on a machine with no other loopback
 * address, 0.0.0.0, a LAN address). With --port, one port for all, so each cluster needs an address
 * of its own: --host is the first, each next one in the next /24.
 */
export function sandboxHosts(count: number, host?: string, fixedPort = false): string[] {
  // As before --port: every cluster on --host, each on a free port of its own.
  if (host !== undefined && !fixedPort) return Array.from({ length: count }, () => host);
  const first = host ?? '127.0.1.1';
  const octets = first.split('.').map(Number);
  const ipv4 = octets.length === 4 && octets.every((o) => Number.isInteger(o) && o >= 0 && o <= 255);
  if (!ipv4) {
    if (count === 1) return [first];
    throw new IsthmusError(
      'USAGE',
      `--host ${first} with --port: give an IPv4 address for ${count} clusters (one /24 each), or leave out --port`,
      { terminal: true },
    );
  }
  const [a, b, c, d] = octets as [number, number, number, number];
  if (c + count - 1 > 255)
    throw new IsthmusError('USAGE', `--host ${first}: ${count} clusters do not fit after it (one /24 each)`, {
      terminal: true,
    });
  return Array.from({ length: count }, (_, i) => `${a}.${b}.${c + i}.${d}`);
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new IsthmusError('USAGE', `--port ${text}: not a port number (1–65535)`, { terminal: true });
  return port;
}
