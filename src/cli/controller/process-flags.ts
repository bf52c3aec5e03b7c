/**
 * V8 settings of the controller process, all measured with `npm run bench:mirror -- --modes off`
 * (2 × 5,000 services, same machine, alternating runs).
 *
 * Start-up flags (NODE_OPTIONS in the controller Deployment, the lab's spawner, the mirror
 * benchmark; V8 sizes its heap before our code runs):
 * `--max-semi-space-size=2` (MiB): a 10,000-mirror initial sync allocates fast, and V8's default
 * young generation (up to 16 MiB per semi-space) keeps that many pages touched afterwards: RSS
 * peak/steady 282/264 MB without the flag, 251/204 MB with it, initial sync within noise.
 *
 * Runtime flags (`applyControllerV8Flags`, because NODE_OPTIONS refuses them):
 * `--heap-growing-percent=60`: a full GC whenever the old generation has grown 60 % past what the
 * last one left. V8's own factor follows its GC speed and mutator utilisation, so the sync's peak
 * RSS swung between 225 and 300 MB from run to run of one build; with 60 % it stayed at 200–215 MB,
 * for 6 full GCs per sync instead of ~4 (tens of ms more main-thread pause in all).
 */
import { setFlagsFromString } from 'node:v8';

export const CONTROLLER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];

/** The same as a NODE_OPTIONS value. */
export const CONTROLLER_NODE_OPTIONS = CONTROLLER_NODE_FLAGS.join(' ');

export const CONTROLLER_RUNTIME_V8_FLAGS: readonly string[] = ['--heap-growing-percent=60'];

/** Applies the runtime flags; V8 reads this one at every full GC, so setting it at start-up holds. */
export function applyControllerV8Flags(): void {
  for (const flag of CONTROLLER_RUNTIME_V8_FLAGS) setFlagsFromString(flag);
}
