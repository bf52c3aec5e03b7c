/**
 * Reads a few samples from the gateways' Prometheus `/metrics` (shared/DESIGN.md, "Metrics"):
 * open tunnels per direction and V8 heap in use, to cross-check the RSS-based idle measurement
 * (RSS can hide growth inside heap pages a process had already touched).
 */

/** Sum of the samples of `name` (any labels) in a Prometheus text exposition, or undefined. */
export function sampleSum(text: string, name: string, labelFilter = ''): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
    if (labelFilter !== '' && !line.includes(labelFilter)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum = (sum ?? 0) + value;
  }
  return sum;
}

/** `egress tunnels open 1000, ingress 1000, heap used 41.2 MiB` over the given admin URLs. */
export async function describeGateways(adminUrls: readonly string[]): Promise<string> {
  let egress = 0;
  let ingress = 0;
  let heap = 0;
  for (const url of adminUrls) {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
    egress += sampleSum(text, 'isthmus_tunnel_open', 'direction="egress"') ?? 0;
    ingress += sampleSum(text, 'isthmus_tunnel_open', 'direction="ingress"') ?? 0;
    heap += sampleSum(text, 'nodejs_heap_size_used_bytes') ?? 0;
  }
  return `tunnels open egress ${egress} / ingress ${ingress}, V8 heap used ${(heap / 2 ** 20).toFixed(1)} MiB`;
}
