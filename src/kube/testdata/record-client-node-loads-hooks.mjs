// Runs on Node's loader-hooks thread. Appends to the file ISTHMUS_RECORD_LOADS_FILE names: a
// regular file never answers EAGAIN, which a synchronous write to a piped stderr does when the
// reading test is slow to drain it (a loaded CI machine, thousands of generated modules).
import { appendFileSync } from 'node:fs';

const out = process.env.ISTHMUS_RECORD_LOADS_FILE;

export async function load(url, context, nextLoad) {
  const at = url.indexOf('/@kubernetes/client-node/');
  if (at >= 0 && out)
    appendFileSync(out, `[client-node load] ${url.slice(at + '/@kubernetes/client-node/'.length)}\n`);
  return nextLoad(url, context);
}
