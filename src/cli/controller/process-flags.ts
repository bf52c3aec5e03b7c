/**
 * V8 settings of the controller process, all measured with `npm run bench:mirror -- --modes off`
 * (2 × 5,000 services, same machine, alternating runs).
 *
 * Start-up flags (NODE_OPTIONS in the controller Deployment, the lab's spawner, the mirror
 * benchmark; V8 sizes its heap before our code runs):
 * `--max-semi-space-size=4` (MiB): a 10,000-mirror initial sync allocates fast, and V8's default
 * young generation (up to 16 MiB per semi-space) keeps that many pages touched afterwards: RSS
 * peak/steady 282/264 MB without the flag, 251/204 MB at 2 MiB. 2 MiB cost CPU, though: the
 * sync's main-thread GC was ~1.2 s at 2 MiB, ~0.5 s at 16 MiB (CPU profiles), and per unit of the
 * API server's CPU in the same sync the controller needed 1.02–1.14× (median 1.07×, 12 runs) at
 * 4 MiB against 1.12–1.27× (median 1.15×, 8 runs) at 2 MiB, with peak RSS 207–234 MB against
 * 224–242 MB (2026-11-23; bench/mirror/notes.md).
 *
 * Runtime flags (`applyControllerV8Flags`, because NODE_OPTIONS refuses them):
 * `--heap-growing-percent=60`: a full GC whenever the old generation has grown 60 % past what the
 * last one left. V8's own factor follows its GC speed and mutator utilisation, so the sync's peak
 * RSS swung between 225 and 300 MB from run to run of one build; with 60 % it stayed at 200–215 MB,
 * for 6 full GCs per sync instead of ~4 (tens of ms more main-thread pause in all).
 */
import { setFlagsFromString } from 'node:v8';

export const CONTROLLER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];

/** The same as a NODE_OPTIONS value. */
export const CONTROLLER_NODE_OPTIONS = CONTROLLER_NODE_FLAGS.join(' ');

export const CONTROLLER_RUNTIME_V8_FLAGS: readonly string[] = ['--heap-growing-percent=60'];

/** Applies the runtime flags; V8 reads this one at every full GC, so setting it at start-up holds. */
export function applyControllerV8Flags(): void {
  for (const flag of CONTROLLER_RUNTIME_V8_FLAGS) setFlagsFromString(flag);
}
