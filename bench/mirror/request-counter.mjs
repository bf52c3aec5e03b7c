// Preloaded into the controller process by the mirror benchmark (`node --import` this file), in
// plain JavaScript so that the controller runs from built JS without tsx. It subscribes to the
// KubeClient's diagnostics channel (src/kube/request-pipeline.ts `isthmus:kube:request`) and counts
// finished requests by API server, verb and resource, e.g. `127.0.0.1:4431 create services` or
// `... patch links/status`. The benchmark asks for the counts over the IPC channel.
import diagnostics from 'node:diagnostics_channel';

const counts = new Map();
/**
 * By path: creates and lists go to collection paths, a few hundred in a whole run. The split was
 * ~0.6 % of the controller's CPU in a sync, a cost the bare client of the floor does not carry.
 */
const resources = new Map();

/** `/apis/g/v/namespaces/ns/links/name/status` → `links/status`; `/api/v1/services` → `services`. */
function resourceOf(path) {
  const parts = path.split('?')[0].split('/').filter(Boolean);
  const rest = parts[0] === 'api' ? parts.slice(2) : parts.slice(3);
  const body = rest[0] === 'namespaces' && rest.length > 2 ? rest.slice(2) : rest;
  const plural = body[0] ?? 'other';
  return body[2] ? `${plural}/${body[2]}` : plural;
}

function cachedResourceOf(path) {
  let resource = resources.get(path);
  if (resource === undefined) {
    resource = resourceOf(path);
    if (resources.size < 10_000) resources.set(path, resource);
  }
  return resource;
}

diagnostics.subscribe('isthmus:kube:request', (event) => {
  const ok = event.status !== undefined && event.status < 400;
  const key = `${event.server} ${event.verb} ${cachedResourceOf(event.path)}${ok ? '' : ` ${event.status ?? 'error'}`}`;
  counts.set(key, (counts.get(key) ?? 0) + 1);
});

if (process.send) {
  process.on('message', (msg) => {
    if (msg && msg.op === 'requestCounts') process.send({ id: msg.id, result: Object.fromEntries(counts) });
  });
  // The channel must not keep the controller alive after SIGTERM.
  process.channel?.unref();
}
