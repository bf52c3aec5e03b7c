/**
 * V8 flags the controller process should be started with (NODE_OPTIONS in the controller
 * Deployment, the lab's spawner, the mirror benchmark): V8 sizes its heap before our code runs.
 *
 * `--max-semi-space-size=2` (MiB): a 10,000-mirror initial sync allocates fast, and V8's default
 * young generation (up to 16 MiB per semi-space) keeps that many pages touched afterwards. Measured
 * with `npm run bench:mirror -- --modes off` (2 × 5,000 services, same machine, minutes apart):
 * RSS peak/steady 282/264 MB without the flag, 251/204 MB with it, initial sync within noise.
 */
export const CONTROLLER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];

/** The same as a NODE_OPTIONS value. */
export const CONTROLLER_NODE_OPTIONS = CONTROLLER_NODE_FLAGS.join(' ');
