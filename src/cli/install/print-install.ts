/** What install and upgrade print: the notes the options call for on stderr, the manifests on stdout. */
import { exposureNotes } from './gateway-exposure.js';
import { networkPolicyNotes } from './network-policy.js';
import type { InstallOptions } from './options.js';
import { renderInstall } from './render.js';

export function printInstall(opts: InstallOptions): void {
  const notes = [
    ...exposureNotes(opts.gatewayExposure),
    ...(opts.networkPolicy ? networkPolicyNotes(opts.networkPolicy) : []),
  ];
  for (const note of notes) process.stderr.write(`note: ${note}\n`);
  process.stdout.write(renderInstall(opts));
}
