/**
 * `isthmus install --admission-policy`: a ValidatingAdmissionPolicy and its binding
 * (admissionregistration.k8s.io/v1, GA in Kubernetes 1.30) that keep the EndpointSlices Isthmus's
 * controllers manage to isthmus-controller. The gateway trusts a slice labelled
 * `endpointslice.kubernetes.io/managed-by: mirror.isthmus.dev` (or the failover and federation
 * controllers' values) as the controller's word; Kubernetes' default roles give no tenant the
 * right to write EndpointSlices, but where a cluster does, a tenant could forge one in its own
 * namespace and redirect a mirror. With the policy, only the controller's service account may
 * create, update or delete a slice that carries (or, on update and delete, carried) one of those
 * labels, besides the kube-controller-manager's garbage collector and namespace controller, which
 * may delete them (a mirror Service deleted, a namespace deleted) and update them without touching
 * their managed-by label (the collector orphaning them: a patch of their ownerReferences). Pure: options in, objects out.
 *
 * Each expression runs in kube-apiserver's CEL environment: `object` is null on DELETE and
 * `oldObject` on CREATE; label keys hold '/' and '.', so they are read with `in` and `[...]`.
 */
import {
  MANAGED_BY_FAILOVER,
  MANAGED_BY_FEDERATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_MIRROR,
} from '../../kube/keys.js';
import { apiVersionOf, R } from '../../kube/resources.js';
import { type InstallOptions, PART_OF } from './options.js';

export interface AdmissionPolicyFlags {
  admissionPolicy?: boolean;
}

/** The policy's and its binding's name (both cluster-scoped). */
export const ADMISSION_POLICY_NAME = 'isthmus-managed-endpointslices';

/** The managed-by values of Isthmus's controllers: mirrors, failover apexes, federated Services. */
export const ISTHMUS_MANAGERS = [MANAGED_BY_MIRROR, MANAGED_BY_FAILOVER, MANAGED_BY_FEDERATION] as const;

/**
 * Who may delete such a slice besides the controller: the kube-controller-manager's garbage
 * collector (a mirror Service deleted takes its slices, which it owns) and namespace controller (a
 * namespace deleted), under their own service accounts (`--use-service-account-credentials`,
 * kubeadm's and most distributions' default) or as the manager's own user where it runs without.
 */
export const CLEANUP_USERS = [
  'system:serviceaccount:kube-system:generic-garbage-collector',
  'system:serviceaccount:kube-system:namespace-controller',
  'system:kube-controller-manager',
] as const;

/** The install's controller, as the API server names its requests. */
export const controllerUser = (namespace: string) => `system:serviceaccount:${namespace}:isthmus-controller`;

/** A CEL string literal (single-quoted; what we quote holds no quote or backslash). */
const str = (s: string) => {
  if (/['\\\n]/.test(s)) throw new Error(`cannot quote ${JSON.stringify(s)} in CEL`);
  return `'${s}'`;
};
const strList = (values: readonly string[]) => `[${values.map(str).join(', ')}]`;

/** The managed-by label of `obj` (object or oldObject), '' when it has none or is null. */
const managerOf = (obj: 'object' | 'oldObject') =>
  `${obj} != null && has(${obj}.metadata.labels) && ${str(MANAGED_BY_LABEL)} in ${obj}.metadata.labels ? ${obj}.metadata.labels[${str(MANAGED_BY_LABEL)}] : ''`;

export interface PolicyExpressions {
  variables: { name: string; expression: string }[];
  validation: { expression: string; messageExpression: string; message: string };
}

/** The policy's CEL, apart from the objects, for the table test that evaluates it. */
export function admissionPolicyExpressions(namespace: string): PolicyExpressions {
  const controller = controllerUser(namespace);
  return {
    variables: [
      { name: 'newManager', expression: managerOf('object') },
      { name: 'oldManager', expression: managerOf('oldObject') },
      {
        name: 'isthmusManaged',
        expression: `[variables.newManager, variables.oldManager].exists(m, m in ${strList(ISTHMUS_MANAGERS)})`,
      },
      {
        name: 'manager',
        expression: `variables.newManager in ${strList(ISTHMUS_MANAGERS)} ? variables.newManager : variables.oldManager`,
      },
    ],
    validation: {
      // The cleanup users may delete such a slice, and update one without touching its manager:
      // the garbage collector orphans a slice (`--cascade=orphan`) by patching its ownerReferences,
      // and a refused patch would leave the owner stuck with its `orphan` finalizer.
      expression: `!variables.isthmusManaged || request.userInfo.username == ${str(controller)} || (request.userInfo.username in ${strList(CLEANUP_USERS)} && (request.operation == 'DELETE' || (request.operation == 'UPDATE' && variables.newManager == variables.oldManager)))`,
      messageExpression: `'EndpointSlices managed by ' + variables.manager + ' are written by ${controller} only (the gateway trusts them as its word): ' + request.userInfo.username + ' may not ' + request.operation + ' one'`,
      message: `EndpointSlices managed by Isthmus's controllers (${ISTHMUS_MANAGERS.join(', ')}) are written by ${controller} only`,
    },
  };
}

export function admissionPolicyManifests(opts: InstallOptions): object[] {
  if (!opts.admissionPolicy) return [];
  const { variables, validation } = admissionPolicyExpressions(opts.namespace);
  const metadata = { name: ADMISSION_POLICY_NAME, labels: { ...PART_OF } };
  return [
    {
      apiVersion: apiVersionOf(R.validatingAdmissionPolicies),
      kind: R.validatingAdmissionPolicies.kind,
      metadata,
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          // Only slices that carry, or carried, one of our values reach the CEL: the selector
          // matches when the old object or the new one does, and no other slice can be refused.
          objectSelector: {
            matchExpressions: [{ key: MANAGED_BY_LABEL, operator: 'In', values: [...ISTHMUS_MANAGERS] }],
          },
          resourceRules: [
            {
              apiGroups: ['discovery.k8s.io'],
              apiVersions: ['*'],
              operations: ['CREATE', 'UPDATE', 'DELETE'],
              resources: ['endpointslices'],
              // The API server's default, written out: resourceRules is an atomic list, so a
              // default inside it would have each `kubectl apply` send the list again ("configured").
              scope: '*',
            },
          ],
        },
        variables,
        validations: [{ ...validation, reason: 'Forbidden' }],
      },
    },
    {
      apiVersion: apiVersionOf(R.validatingAdmissionPolicyBindings),
      kind: R.validatingAdmissionPolicyBindings.kind,
      metadata,
      spec: { policyName: ADMISSION_POLICY_NAME, validationActions: ['Deny'] },
    },
  ];
}
