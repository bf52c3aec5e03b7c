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
      'first loopback address; cluster N listens on 127.0.N.1 unless --host is given',
    )
    .option('--allow-loopback-endpoints', 'admit loopback endpoint addresses (single-host labs only)', false)
    .action(
      async (opts: {
        clusters: string;
        kubeconfig: string;
        host?: string;
        allowLoopbackEndpoints: boolean;
      }) => {
        const names = parseClusterList(opts.clusters);
        const { startSandbox, mergeKubeconfigs } = await import('../../sandbox/index.js');
        const sandboxes = [];
        for (const [i, name] of names.entries()) {
          sandboxes.push(
            await startSandbox({
              name,
              host: opts.host ?? `127.0.${i + 1}.1`,
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
