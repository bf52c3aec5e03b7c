/**
 * Per-kind validation of built-in objects, as kube-apiserver's registry strategies run it. The
 * caller validates ObjectMeta (validateObjectMeta with nameRuleFor's rule) and then calls
 * validateBuiltin for the kind's own rules; each rule lives in a validation-*.ts module.
 */

import {
  type ValidationOptions,
  validateEndpointSlice,
  validateEndpoints,
} from '../kube/validation/endpoint-slice.js';
import type { StatusCause } from '../kube/validation/field-errors.js';
import type { NameRule } from '../kube/validation/meta.js';
import { validateService } from '../kube/validation/service.js';
import {
  validateValidatingAdmissionPolicy,
  validateValidatingAdmissionPolicyBinding,
} from './validation-admission.js';
import { validateConfigMap, validateNamespace, validateSecret } from './validation-config.js';
import { validateNetworkPolicy } from './validation-networking.js';
import { validatePodUpdate } from './validation-pod-update.js';
import { validatePodDisruptionBudget } from './validation-policy.js';
import {
  validateDeployment,
  validateEvent,
  validateLease,
  validatePod,
  validateRbacRules,
  validateRoleBinding,
} from './validation-workloads.js';

export type { ValidationOptions } from '../kube/validation/endpoint-slice.js';
export {
  type NameRule,
  type ObjectMetaOptions,
  validateName,
  validateObjectMeta,
} from '../kube/validation/meta.js';

type KindValidator = (obj: unknown, old: unknown | undefined, opts: ValidationOptions) => StatusCause[];

const RBAC = 'rbac.authorization.k8s.io/v1';

/** Keyed by `apiVersion/Kind`, the form resource-types.ts gvkOf produces. */
const VALIDATORS: Record<string, KindValidator> = {
  'v1/Service': (o, old) => validateService(o, old),
  'v1/Endpoints': (o, _old, opts) => validateEndpoints(o, opts),
  'discovery.k8s.io/v1/EndpointSlice': (o, old, opts) => validateEndpointSlice(o, old, opts),
  'v1/Secret': (o, old) => validateSecret(o, old),
  'v1/ConfigMap': (o, old) => validateConfigMap(o, old),
  'v1/Namespace': (o) => validateNamespace(o),
  'v1/Pod': (o, old) => [...validatePod(o), ...(old === undefined ? [] : validatePodUpdate(o, old))],
  'v1/Event': (o) => validateEvent(o),
  'apps/v1/Deployment': (o, old) => validateDeployment(o, old),
  'coordination.k8s.io/v1/Lease': (o) => validateLease(o),
  'policy/v1/PodDisruptionBudget': (o) => validatePodDisruptionBudget(o),
  'networking.k8s.io/v1/NetworkPolicy': (o) => validateNetworkPolicy(o),
  [`${RBAC}/Role`]: (o) => validateRbacRules(o, true),
  [`${RBAC}/ClusterRole`]: (o) => validateRbacRules(o, false),
  [`${RBAC}/RoleBinding`]: (o, old) => validateRoleBinding(o, old, true),
  [`${RBAC}/ClusterRoleBinding`]: (o, old) => validateRoleBinding(o, old, false),
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy': (o) => validateValidatingAdmissionPolicy(o),
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding': (o) =>
    validateValidatingAdmissionPolicyBinding(o),
};

/** The kind's own rules; `old` is the stored object on update. `[]` for kinds without rules here. */
export function validateBuiltin(
  gvk: string,
  obj: unknown,
  old: unknown | undefined,
  opts: ValidationOptions,
): StatusCause[] {
  return VALIDATORS[gvk]?.(obj, old, opts) ?? [];
}

/**
 * The name rule kube applies per kind: Services are DNS-1035 labels (they become DNS names and
 * env var prefixes), Namespaces DNS-1123 labels, RBAC objects path segments, the rest subdomains.
 */
export function nameRuleFor(gvk: string): NameRule {
  const kind = gvk.slice(gvk.lastIndexOf('/') + 1);
  if (gvk === 'v1/Service') return 'dns1035-label';
  if (gvk === 'v1/Namespace') return 'dns1123-label';
  if (
    gvk.startsWith('rbac.authorization.k8s.io/') &&
    ['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'].includes(kind)
  ) {
    return 'path-segment';
  }
  return 'dns1123-subdomain';
}
