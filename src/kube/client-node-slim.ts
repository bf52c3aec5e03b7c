/**
 * Loading client-node without its generated API. Its KubeConfig module (`dist/config.js`, all we
 * use at run time: kubeconfig loading and credentials) statically imports `dist/gen/index.js`,
 * ~2,500 generated model and API modules, for the one method we never call (`makeApiClient`).
 * A process that registers the resolve hook below before it first loads client-node gets
 * `config.js` with that import answered by a module that exports only the two names `config.js`
 * takes from it (`createConfiguration`, `ServerConfiguration`), from the same generated modules,
 * so `makeApiClient` would still work. Measured on Node 20: a CLI process that loads a kubeconfig
 * starts in ~0.5 s instead of ~0.8 s, at ~90 MB of RSS instead of ~135–145 MB.
 *
 * Only the entry points register it (src/cli/main.ts, src/gateway/main.ts), so every long-running
 * process starts slim; tests and the sandbox load client-node whole.
 */
import * as nodeModule from 'node:module';

type ResolveResult = { url: string; shortCircuit?: boolean } | unknown;
type NextResolve = (specifier: string, context?: { parentURL?: string }) => ResolveResult;

/**
 * The resolve hook. Self-contained (no closures, no helpers): on Node 20 it runs on the
 * loader-hooks thread from its own source text (`SLIM_HOOKS_URL`).
 */
export function resolve(
  specifier: string,
  context: { parentURL?: string },
  nextResolve: NextResolve,
): ResolveResult {
  const parent = context.parentURL;
  if (specifier !== './gen/index.js' || !parent?.endsWith('/@kubernetes/client-node/dist/config.js')) {
    return nextResolve(specifier, context);
  }
  const configuration = JSON.stringify(new URL('./gen/configuration.js', parent).href);
  const servers = JSON.stringify(new URL('./gen/servers.js', parent).href);
  const source =
    `export { createConfiguration } from ${configuration};\n` +
    `export { ServerConfiguration } from ${servers};\n`;
  return { url: `data:text/javascript,${encodeURIComponent(source)}`, shortCircuit: true };
}

/** The hook as a module of its own, for Node 20's `module.register`. */
export const SLIM_HOOKS_URL = `data:text/javascript,${encodeURIComponent(`export ${resolve.toString()}`)}`;

let registered = false;

export function registerSlimClientNode(): void {
  if (registered) return;
  registered = true;
  // Node 22.15+ and 24: in-thread synchronous hooks (`module.register` is deprecated, DEP0205).
  // Node 20: off-thread hooks, loaded from a data: URL, so no TypeScript loader or file beside
  // dist/ is needed on that thread (~10 MB of RSS for the thread).
  const { registerHooks } = nodeModule as { registerHooks?: (hooks: { resolve: typeof resolve }) => unknown };
  if (registerHooks) registerHooks({ resolve });
  else nodeModule.register(SLIM_HOOKS_URL);
}
