/**
 * Loading client-node without its generated API. Its KubeConfig module (`dist/config.js`, all we
 * use at run time: kubeconfig loading and credentials) statically imports `dist/gen/index.js`,
 * ~2,500 generated model and API modules, for the one method we never call (`makeApiClient`).
 * A process that registers the resolve hook below before it first loads client-node gets
 * `config.js` with that import answered by a module that exports only the two names `config.js`
 * takes from it (`createConfiguration`, `ServerConfiguration`), from the same generated modules,
 * so `makeApiClient` would still work. Measured on Node 20/22/24: loading KubeConfig costs ~35 MB
 * of RSS and ~8 MB of V8 heap instead of ~75 MB and ~30 MB, and ~0.2 s instead of ~0.5 s; the
 * thread Node runs module hooks on is ~10 MB of that.
 *
 * Only the entry points register it (src/cli/main.ts, src/gateway/main.ts), so every long-running
 * process starts slim; tests and the sandbox load client-node whole.
 *
 * The hook is a `data:` module: it runs on Node's loader-hooks thread, which in a source checkout
 * has no TypeScript loader on Node 22 and 24, and a data: module needs no file beside dist/ either.
 */
import { register } from 'node:module';

const HOOKS_SOURCE = `
const CONFIG_MODULE = '/@kubernetes/client-node/dist/config.js';
export async function resolve(specifier, context, nextResolve) {
  if (specifier !== './gen/index.js' || !context.parentURL?.endsWith(CONFIG_MODULE)) {
    return nextResolve(specifier, context);
  }
  const gen = (file) => JSON.stringify(new URL('./gen/' + file, context.parentURL).href);
  const source =
    'export { createConfiguration } from ' + gen('configuration.js') + ';\\n' +
    'export { ServerConfiguration } from ' + gen('servers.js') + ';\\n';
  return { url: 'data:text/javascript,' + encodeURIComponent(source), shortCircuit: true };
}
`;

/** The hook module, as the URL `register` takes. */
export const SLIM_HOOKS_URL = `data:text/javascript,${encodeURIComponent(HOOKS_SOURCE)}`;

let registered = false;

export function registerSlimClientNode(): void {
  if (registered) return;
  registered = true;
  register(SLIM_HOOKS_URL);
}
