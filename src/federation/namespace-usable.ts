/**
 * Whether a controller may create objects in a namespace. The API server's NamespaceLifecycle
 * admission refuses new content in a namespace that does not exist (404) or is being deleted (403,
 * cause `NamespaceTerminating`, while finalizers hold it): a controller that writes there anyway
 * only fails, and counts it as a sync error, on every event until the namespace is gone.
 *
 * Kept here for the federation controller; the mirror controller needs the same answer and can
 * share it from src/kube once both use it.
 */
import { isNamespaceTerminating, isNotFound } from '../kube/errors.js';
import type { V1Namespace } from '../kube/types.js';

/** A namespace that exists and is not being deleted (no deletionTimestamp). */
export function namespaceUsable(namespace: V1Namespace | undefined): boolean {
  return namespace !== undefined && !namespace.metadata?.deletionTimestamp;
}

/**
 * An error the namespace's state may explain: 404 (a create in a namespace that is gone, or was
 * while the request ran) or 403 NamespaceTerminating (RBAC's 403 is not). A fresh read of the
 * namespace says whether it still holds: one deleted and created again since takes the write.
 */
export function mayBeNamespaceRefusal(err: unknown): boolean {
  return isNotFound(err) || isNamespaceTerminating(err);
}
