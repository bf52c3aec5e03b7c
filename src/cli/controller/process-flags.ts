/**
 * V8 settings of the controller process, all measured with `npm run bench:mirror -- --modes off`
 * (2 × 5,000 services, same machine, alternating runs).
 *
 * Start-up flags (NODE_OPTIONS in the controller Deployment, the lab's spawner, the mirror
 * benchmark; V8 sizes its heap before our code runs):
 * `--max-semi-space-size=16` (MiB, V8's own maximum; set so that no Node default moves it): the
 * young generation. A 10,000-mirror initial sync allocates ~100 KB per mirror, and every scavenge
 * copies what is in flight, so a small young generation costs CPU: per unit of the API server's
 * CPU in the same sync the controller needed 1.15× at 2 MiB, 1.07× at 4 MiB and 1.03× at 16 MiB
 * (medians, 2026-11-23; main-thread GC ~1.2 s at 2 MiB, ~0.5 s at 16 MiB). It used to be 2, then
 * 4, to hold peak RSS under 250 MB (16 MiB peaked at 234–261 MB). Since the CLI loads client-node
 * without its generated API (src/kube/client-node-slim.ts), 16 MiB peaks at 207–216 MB (213–224 MB
 * for a restarted controller) and 4 MiB at 188–194 MB (bench/mirror/notes.md).
 *
 * Runtime flags (`applyControllerV8Flags`, because NODE_OPTIONS refuses them):
 * `--heap-growing-percent=60`: a full GC whenever the old generation has grown 60 % past what the
 * last one left. V8's own factor follows its GC speed and mutator utilisation, so the sync's peak
 * RSS swung between 225 and 300 MB from run to run of one build; with 60 % it stayed at 200–215 MB,
 * for 6 full GCs per sync instead of ~4 (tens of ms more main-thread pause in all).
 */
import { setFlagsFromString } from 'node:v8';

export const CONTROLLER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16'];

/** The same as a NODE_OPTIONS value. */
export const CONTROLLER_NODE_OPTIONS = CONTROLLER_NODE_FLAGS.join(' ');

export const CONTROLLER_RUNTIME_V8_FLAGS: readonly string[] = ['--heap-growing-percent=60'];

/** Applies the runtime flags; V8 reads this one at every full GC, so setting it at start-up holds. */
export function applyControllerV8Flags(): void {
  for (const flag of CONTROLLER_RUNTIME_V8_FLAGS) setFlagsFromString(flag);
}
