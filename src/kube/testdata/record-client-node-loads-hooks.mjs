// Runs on Node's loader-hooks thread, so it writes to stderr directly.
import { writeSync } from 'node:fs';

export async function load(url, context, nextLoad) {
  const at = url.indexOf('/@kubernetes/client-node/');
  if (at >= 0) writeSync(2, `[client-node load] ${url.slice(at + '/@kubernetes/client-node/'.length)}\n`);
  return nextLoad(url, context);
}
