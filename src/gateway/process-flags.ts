/**
 * V8 flags the gateway process should be started with (`node <flags> dist/gateway/main.js`, or
 * `NODE_OPTIONS` in the gateway Deployment). They cannot be set from inside the process: V8 sizes
 * its heap before the first line of ours runs.
 *
 * `--max-semi-space-size=4` (MiB): V8 grows each of the two young-generation semi-spaces up to
 * 16 MiB on 64-bit hosts by default, and loading the gateway's modules (the Kubernetes client's
 * generated models above all) already grows them that far, so an idle gateway keeps ~30 MiB of
 * young-generation pages touched. Capped at 4 MiB, measured with bench/latency-probe.ts: idle RSS
 * ~137 → ~117 MiB per gateway, scavenges more frequent but shorter (~2.5 ms instead of up to ~10 ms
 * at wrk load), keep-alive throughput unchanged within this machine's noise. 2 MiB saves another
 * ~8 MiB but cost ~10 % keep-alive throughput in the same runs. Since the gateway loads
 * client-node without its generated models (src/kube/client-node-slim.ts) the flag saves less:
 * idle RSS 108/103 MiB (east/west) with it against 107/107 without, 101–105 against ~112 MiB after
 * a closed-loop run (2026-11-23, one run each). 8 and 16 MiB were measured against it again
 * (bench/gateway-analysis.md, "Idle memory"): at best a few per cent more new connections per
 * second at 16 MiB, but 34–42 KiB of RSS per idle tunnel against 9–16 KiB, near the 45 KiB target.
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];

/** The same as a NODE_OPTIONS value. */
export const GATEWAY_NODE_OPTIONS = GATEWAY_NODE_FLAGS.join(' ');
