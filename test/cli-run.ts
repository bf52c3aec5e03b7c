/** The real CLI and the real kubectl as a user runs them, for the scenario tests in test/. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function runProcess(file: string, args: string[], input: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin!.end(input);
  });
}

/** `isthmus <args>` from this checkout; its outcome whether it failed or not (60 s deadline). */
export function isthmusCli(args: string[]): Promise<Outcome> {
  return runProcess(process.execPath, ['bin/isthmus.mjs', ...args], '');
}

/** `kubectl --kubeconfig <kubeconfig> <args>` with `input` on stdin (60 s deadline). */
export function kubectlWithInput(kubeconfig: string) {
  return (args: string[], input = ''): Promise<Outcome> =>
    runProcess('kubectl', ['--kubeconfig', kubeconfig, ...args], input);
}

/** `isthmus install` of `cluster` with the files `isthmus certs --out <certs>` wrote for `issuer`. */
export function installArgs(certs: string, cluster: string, issuer = cluster): string[] {
  return [
    'install',
    '--cluster-name',
    cluster,
    '--trust-anchor',
    join(certs, 'ca.crt'),
    '--issuer-cert',
    join(certs, issuer, 'issuer.crt'),
    '--issuer-key',
    join(certs, issuer, 'issuer.key'),
  ];
}
