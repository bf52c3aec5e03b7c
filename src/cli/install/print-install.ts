/** What install and upgrade print: the notes the options call for on stderr, the manifests on stdout. */
import { networkPolicyNotes } from './network-policy.js';
import type { InstallOptions } from './options.js';
import { renderInstall } from './render.js';

export function printInstall(opts: InstallOptions): void {
  for (const note of opts.networkPolicy ? networkPolicyNotes(opts.networkPolicy) : [])
    process.stderr.write(`note: ${note}\n`);
  process.stdout.write(renderInstall(opts));
}
