/**
 * The ValidatingAdmissionPolicy admission plugin (k8s.io/apiserver
 * `admission/plugin/policy/validating/dispatcher.go`): after mutation and validation, before the
 * write, every bound policy that matches the request runs; the first denial refuses it with kube's
 * Status, Warn failures become `Warning` headers, Audit ones have no visible effect.
 */

import {
  activationFor,
  auditAnnotationErrors,
  type CompiledPolicy,
  errorDecision,
  evaluateMatchConditions,
  evaluateValidations,
  type PolicyDecision,
} from './admission-policy-cel.js';
import type { PolicyIndex } from './admission-policy-index.js';
import {
  type AdmissionAttributes,
  type AdmissionOperation,
  matchResourcesMatch,
} from './admission-policy-match.js';
import { ApiError, forbidden, type StatusReason } from './api-status.js';
import type { UserInfo } from './rbac.js';
import { type ResourceType, resourceKey } from './resource-types.js';
import type { KObj, ObjectStore } from './store.js';

/** Who a write is admitted as, and where the policies' Warn failures go. */
export interface AdmissionContext {
  user: UserInfo;
  warnings?: string[];
  /** The caller admitted this write itself (a subresource whose object is not the stored kind). */
  admitted?: boolean;
}

const serviceAccount = (name: string): UserInfo => ({
  username: `system:serviceaccount:kube-system:${name}`,
  groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
});

/**
 * The users cluster components write as: kube-controller-manager's controllers under their own
 * service accounts (--use-service-account-credentials), kube-apiserver's own writes as its
 * loopback user.
 */
export const SYSTEM_USERS = {
  apiserver: { username: 'system:apiserver', groups: ['system:authenticated', 'system:masters'] },
  garbageCollector: serviceAccount('generic-garbage-collector'),
  namespaceController: serviceAccount('namespace-controller'),
  serviceAccountController: serviceAccount('service-account-controller'),
  rootCaPublisher: serviceAccount('root-ca-cert-publisher'),
  tokensController: serviceAccount('tokens-controller'),
} satisfies Record<string, UserInfo>;

/** Admission configuration itself is exempt (IsExemptAdmissionConfigurationResource). */
const EXEMPT_GROUP = 'admissionregistration.k8s.io';

const CODES: Record<string, number> = { Forbidden: 403, Unauthorized: 401, RequestEntityTooLarge: 413 };

interface Denial {
  policy: string;
  binding: string | undefined;
  message: string;
  reason: string;
}

export class ValidatingAdmissionPolicies {
  constructor(
    private readonly store: ObjectStore,
    private readonly index: PolicyIndex,
  ) {}

  /** Whether any bound policy could apply to this resource: the cheap test before building attributes. */
  covers(group: string, resource: string): boolean {
    return group !== EXEMPT_GROUP && this.index.candidates(group, resource).length > 0;
  }

  /** Throws the first denial; pushes Warn failures onto `warnings`. */
  admit(a: AdmissionAttributes, warnings: string[] | undefined): void {
    if (a.resource.group === EXEMPT_GROUP) return;
    const denials: Denial[] = [];
    const namespaceObject = this.namespaceOf(a);
    for (const { policy, bindings } of this.index.candidates(a.resource.group, a.resource.resource)) {
      if (!matchResourcesMatch(policy.matchConstraints, a, namespaceObject, false)) continue;
      if (policy.unsupported) {
        this.configError(denials, policy, undefined, `failed to configure policy: ${policy.unsupported}`);
        continue;
      }
      let activation: Record<string, unknown> | undefined;
      for (const binding of bindings) {
        const spec = (binding.spec ?? {}) as {
          matchResources?: unknown;
          paramRef?: unknown;
          validationActions?: string[];
        };
        if (!matchResourcesMatch(spec.matchResources, a, namespaceObject, true)) continue;
        const name = binding.metadata.name!;
        if (spec.paramRef) {
          this.configError(
            denials,
            policy,
            name,
            'failed to configure binding: params (spec.paramRef) are not supported by the sandbox',
          );
          continue;
        }
        activation ??= activationFor(policy, a, namespaceObject);
        const { decisions, auditErrors } = this.decide(policy, activation);
        for (const d of decisions) {
          if (d.action !== 'deny') continue;
          for (const action of spec.validationActions ?? []) {
            if (action === 'Deny')
              denials.push({ policy: policy.name, binding: name, message: d.message, reason: d.reason });
            else if (action === 'Warn')
              warnings?.push(
                `Validation failed for ValidatingAdmissionPolicy '${policy.name}' with binding '${name}': ${d.message}`,
              );
            // Audit: an audit annotation only; the sandbox keeps no audit log.
          }
        }
        // After the validations' (dispatcher order): audit annotation errors deny under Fail.
        for (const message of auditErrors)
          denials.push({ policy: policy.name, binding: name, message, reason: '' });
      }
    }
    if (denials.length > 0) throw denialError(a, denials[0]!);
  }

  /** validator.Validate: matchConditions, then the validations and audit annotations. */
  private decide(
    policy: CompiledPolicy,
    activation: Record<string, unknown>,
  ): { decisions: PolicyDecision[]; auditErrors: string[] } {
    const match = evaluateMatchConditions(policy, activation);
    if (match.error !== undefined)
      return { decisions: [errorDecision(policy, match.error)], auditErrors: [] };
    if (!match.matches) return { decisions: [], auditErrors: [] };
    return {
      decisions: evaluateValidations(policy, activation),
      auditErrors: auditAnnotationErrors(policy, activation),
    };
  }

  /** addConfigError: Ignore drops it; Fail denies whatever the binding's actions. */
  private configError(
    denials: Denial[],
    policy: CompiledPolicy,
    binding: string | undefined,
    message: string,
  ): void {
    if (policy.failurePolicy === 'Fail')
      denials.push({ policy: policy.name, binding, message, reason: 'Invalid' });
  }

  /** The request's Namespace; none for cluster-scoped objects and for a Namespace itself. */
  private namespaceOf(a: AdmissionAttributes): KObj | null {
    if (a.namespace === '' || (a.resource.group === '' && a.resource.resource === 'namespaces')) return null;
    return this.store.get(resourceKey('', 'namespaces'), undefined, a.namespace) ?? null;
  }
}

/**
 * The dispatcher's refusal: admission.NewForbidden's wording ("<resource> "<name>" is forbidden:
 * ValidatingAdmissionPolicy '<p>' with binding '<b>' denied request: <message>"), then the
 * validation's reason and its code, and the message again as a cause.
 */
export function denialError(a: AdmissionAttributes, d: Denial): ApiError {
  const message = d.binding
    ? `ValidatingAdmissionPolicy '${d.policy}' with binding '${d.binding}' denied request: ${d.message}`
    : `ValidatingAdmissionPolicy '${d.policy}' denied request: ${d.message}`;
  const m = a.object?.metadata;
  const name = a.name || m?.name || m?.generateName || 'Unknown';
  const base = forbidden({ group: a.resource.group, resource: a.resource.resource }, name, message);
  const reason = (d.reason || 'Invalid') as StatusReason;
  return new ApiError(CODES[reason] ?? 422, reason, base.message, {
    ...base.details,
    causes: [{ message }],
  });
}

/** What a write path knows beyond the objects: the URL's name and subresource, dryRun, who asks. */
export interface WriteRequest {
  admission?: AdmissionContext | undefined;
  subresource?: string | undefined;
  /** The name on the request, when it differs from the object's (a create by generateName). */
  name?: string | undefined;
  /** The namespace on the request, for an object without metadata (CONNECT's options). */
  namespace?: string | undefined;
  dryRun?: boolean | undefined;
  /** The kind admission sees, when not the resource's own (deployments/scale: a Scale). */
  kind?: AdmissionAttributes['kind'];
}

/** admission.Attributes of a write on `rt` at `version`; no context means kube-apiserver's own write. */
export function attributesFor(
  rt: ResourceType,
  version: string,
  operation: AdmissionOperation,
  object: KObj | null,
  oldObject: KObj | null,
  w: WriteRequest,
): AdmissionAttributes {
  const m = (object ?? oldObject)?.metadata ?? {};
  const isNamespace = rt.group === '' && rt.plural === 'namespaces';
  return {
    operation,
    resource: { group: rt.group, version, resource: rt.plural },
    subresource: w.subresource ?? '',
    kind: w.kind ?? { group: rt.group, version, kind: rt.kind },
    servedVersions: rt.versions,
    name: w.name ?? m.name ?? '',
    // A request on a Namespace's URL carries its name as namespace; a POST to the collection none.
    namespace: rt.namespaced
      ? (w.namespace ?? m.namespace ?? '')
      : isNamespace && operation !== 'CREATE'
        ? (m.name ?? '')
        : '',
    object,
    oldObject,
    userInfo: w.admission?.user ?? SYSTEM_USERS.apiserver,
    dryRun: w.dryRun ?? false,
  };
}
