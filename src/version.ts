/**
 * The version of this build: the CLI prints it (`isthmus --version`, `isthmus version`), the
 * install labels every Deployment and pod with it (`app.kubernetes.io/version`) and pins the
 * default image to it, so `isthmus version` and `isthmus check` can tell which version each pod
 * runs. Kept equal to package.json's by src/version.test.ts.
 */
export const VERSION = '0.1.0';

/** The recommended label (kubernetes.io/docs: common labels) that carries it on objects and pods. */
export const VERSION_LABEL = 'app.kubernetes.io/version';

/**
 * The header with which an ingress answers the mTLS probe (`GET /ready` through the tunnel path):
 * how a linked cluster learns what version its peer's gateway runs (`isthmus gateways`).
 */
export const VERSION_HEADER = 'isthmus-version';

/** A version as a peer states it, or undefined when it is no plausible one (length, characters). */
export function peerVersion(value: unknown): string | undefined {
  return typeof value === 'string' && /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/.test(value) ? value : undefined;
}
