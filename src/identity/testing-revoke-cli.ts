/** For tests: `isthmus certs revoke` as a user runs it, through the CLI's own command. */
import { Command } from 'commander';
import { vi } from 'vitest';
import { registerCerts } from '../cli/commands/certs.js';

/** `isthmus certs revoke --out <dir> <args>`: what it printed (stdout and stderr), and its error. */
export async function revokeCli(dir: string, ...args: string[]): Promise<{ err: unknown; out: string }> {
  let out = '';
  const capture = (chunk: unknown) => {
    out += String(chunk);
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  const program = new Command('isthmus').enablePositionalOptions().exitOverride();
  registerCerts(program);
  const err = await program.parseAsync(['certs', 'revoke', '--out', dir, ...args], { from: 'user' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  vi.restoreAllMocks();
  return { err, out };
}
