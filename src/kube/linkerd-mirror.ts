import { LINKERD_GATEWAY_IDENTITY_ANNOTATION } from './keys.js';
import type { V1Service } from './types.js';

/**
 * A mirror written by Linkerd's own service mirror, which may still link the same cluster while a
 * user moves to Isthmus: our two labels, and Linkerd's gateway identity annotation, which Isthmus
 * neither writes nor copies. The mirror controller never rewrites or deletes it, the gateway opens
 * no listener for it, and `isthmus check` does not count it among Isthmus's mirrors.
 */
export function isLinkerdMirror(service: V1Service | undefined): boolean {
  return service?.metadata?.annotations?.[LINKERD_GATEWAY_IDENTITY_ANNOTATION] !== undefined;
}
