/**
 * The slice of Pod, Deployment, Lease, Event and RBAC rules Isthmus and kubectl meet
 * (`pkg/apis/core/validation`, `pkg/apis/apps/validation`, `pkg/apis/coordination/validation`,
 * `pkg/apis/rbac/validation`), messages as kube words them.
 */

import { SUPPORTED_PROTOCOLS } from '../kube/validation/endpoint-slice.js';
import {
  child,
  duplicate,
  index,
  invalid,
  notSupported,
  required,
  type StatusCause,
  typeInvalid,
} from '../kube/validation/field-errors.js';
import { isRecord, jsonEqual } from '../kube/validation/json-values.js';
import { immutable, validateLabels } from '../kube/validation/meta.js';
import { isDNS1123Label, isValidPortName, isValidPortNum } from '../kube/validation/strings.js';

const nonNegative = 'must be greater than or equal to 0';

function containers(list: unknown, path: string, requireOne: boolean): StatusCause[] {
  if (list === undefined || list === null || (Array.isArray(list) && list.length === 0)) {
    return requireOne ? [required(path)] : [];
  }
  if (!Array.isArray(list)) return [typeInvalid(path, list, 'must be a list')];
  const out: StatusCause[] = [];
  const names = new Set<string>();
  list.forEach((c, i) => {
    const cp = index(path, i);
    if (!isRecord(c)) {
      out.push(typeInvalid(cp, c, 'must be an object'));
      return;
    }
    if (typeof c.name !== 'string' || c.name === '') out.push(required(child(cp, 'name')));
    else {
      for (const msg of isDNS1123Label(c.name)) out.push(invalid(child(cp, 'name'), c.name, msg));
      if (names.has(c.name)) out.push(duplicate(child(cp, 'name'), c.name));
      names.add(c.name);
    }
    if (typeof c.image !== 'string' || c.image.trim() === '') out.push(required(child(cp, 'image')));
    if (Array.isArray(c.ports)) {
      c.ports.forEach((p, j) => {
        const pp = index(child(cp, 'ports'), j);
        if (!isRecord(p)) return;
        const port = typeof p.containerPort === 'number' ? p.containerPort : 0;
        for (const msg of isValidPortNum(port)) out.push(invalid(child(pp, 'containerPort'), port, msg));
        if (typeof p.name === 'string' && p.name !== '') {
          for (const msg of isValidPortName(p.name)) out.push(invalid(child(pp, 'name'), p.name, msg));
        }
        if (p.protocol !== undefined && !(SUPPORTED_PROTOCOLS as readonly unknown[]).includes(p.protocol)) {
          out.push(notSupported(child(pp, 'protocol'), p.protocol, SUPPORTED_PROTOCOLS));
        }
      });
    }
  });
  return out;
}

/** The PodSpec slice: containers (name, image, ports) and initContainers. */
export function validatePodSpec(spec: unknown, path: string): StatusCause[] {
  if (!isRecord(spec)) return [required(path)];
  return [
    ...containers(spec.containers, child(path, 'containers'), true),
    ...containers(spec.initContainers, child(path, 'initContainers'), false),
  ];
}

export function validatePod(pod: unknown): StatusCause[] {
  return isRecord(pod) ? validatePodSpec(pod.spec, 'spec') : [];
}

/** metav1.LabelSelectorAsSelector + Matches: matchLabels AND matchExpressions. */
export function labelSelectorMatches(
  selector: Record<string, unknown>,
  labels: Record<string, unknown>,
): boolean {
  const ml = isRecord(selector.matchLabels) ? selector.matchLabels : {};
  if (!Object.entries(ml).every(([k, v]) => labels[k] === v)) return false;
  const exprs = Array.isArray(selector.matchExpressions) ? selector.matchExpressions : [];
  return exprs.every((e) => {
    if (!isRecord(e) || typeof e.key !== 'string') return false;
    const has = Object.hasOwn(labels, e.key);
    const values = Array.isArray(e.values) ? e.values : [];
    switch (e.operator) {
      case 'In':
        return has && values.includes(labels[e.key]);
      case 'NotIn':
        return !has || !values.includes(labels[e.key]);
      case 'Exists':
        return has;
      case 'DoesNotExist':
        return !has;
      default:
        return false;
    }
  });
}

/**
 * ValidateDeploymentSpec: minReadySeconds is not negative, and progressDeadlineSeconds (defaulted to
 * 600 before validation, so an object that omits it is judged with 600) exceeds it.
 */
function progressDeadlineProblems(spec: Record<string, unknown>): StatusCause[] {
  const out: StatusCause[] = [];
  const minReady = spec.minReadySeconds ?? 0;
  if (typeof minReady !== 'number' || minReady < 0)
    out.push(invalid('spec.minReadySeconds', minReady, nonNegative));
  const deadline = spec.progressDeadlineSeconds ?? 600;
  if (typeof deadline !== 'number' || deadline < 0)
    out.push(invalid('spec.progressDeadlineSeconds', deadline, nonNegative));
  else if (typeof minReady === 'number' && deadline <= minReady)
    out.push(invalid('spec.progressDeadlineSeconds', deadline, 'must be greater than minReadySeconds'));
  return out;
}

export function validateDeployment(dep: unknown, old: unknown): StatusCause[] {
  if (!isRecord(dep)) return [];
  const spec = isRecord(dep.spec) ? dep.spec : {};
  const out: StatusCause[] = [];
  if (spec.replicas !== undefined && (typeof spec.replicas !== 'number' || spec.replicas < 0)) {
    out.push(invalid('spec.replicas', spec.replicas, nonNegative));
  }
  out.push(...progressDeadlineProblems(spec));
  const selector = spec.selector;
  const template = isRecord(spec.template) ? spec.template : {};
  const tmplLabels =
    isRecord(template.metadata) && isRecord(template.metadata.labels) ? template.metadata.labels : {};
  if (!isRecord(selector)) out.push(required('spec.selector'));
  else {
    const empty =
      Object.keys(isRecord(selector.matchLabels) ? selector.matchLabels : {}).length === 0 &&
      (!Array.isArray(selector.matchExpressions) || selector.matchExpressions.length === 0);
    if (empty) out.push(invalid('spec.selector', selector, 'empty selector is invalid for deployment'));
    out.push(...validateLabels(selector.matchLabels, 'spec.selector.matchLabels'));
    if (!empty && !labelSelectorMatches(selector, tmplLabels)) {
      out.push(
        invalid('spec.template.metadata.labels', tmplLabels, '`selector` does not match template `labels`'),
      );
    }
  }
  out.push(...validateLabels(tmplLabels, 'spec.template.metadata.labels'));
  out.push(...validatePodSpec(template.spec, 'spec.template.spec'));
  const restart = isRecord(template.spec) ? template.spec.restartPolicy : undefined;
  if (restart !== undefined && restart !== 'Always') {
    out.push(notSupported('spec.template.spec.restartPolicy', restart, ['Always']));
  }
  if (isRecord(old) && isRecord(old.spec) && !jsonEqual(old.spec.selector, selector)) {
    out.push(immutable('spec.selector', selector));
  }
  return out;
}

/** RFC 3339 with optional fraction, as metav1.MicroTime decodes it. */
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

export function validateLease(lease: unknown): StatusCause[] {
  if (!isRecord(lease) || !isRecord(lease.spec)) return [];
  const spec = lease.spec;
  const out: StatusCause[] = [];
  const int = (f: string, min: number, msg: string) => {
    const v = spec[f];
    if (v === undefined || v === null) return;
    if (typeof v !== 'number' || !Number.isInteger(v))
      out.push(typeInvalid(`spec.${f}`, v, 'must be an integer'));
    else if (v < min) out.push(invalid(`spec.${f}`, v, msg));
  };
  int('leaseDurationSeconds', 1, 'must be greater than 0');
  int('leaseTransitions', 0, nonNegative);
  for (const f of ['holderIdentity', 'strategy', 'preferredHolder']) {
    const v = spec[f];
    if (v !== undefined && v !== null && typeof v !== 'string')
      out.push(typeInvalid(`spec.${f}`, v, 'must be a string'));
  }
  for (const f of ['acquireTime', 'renewTime']) {
    const v = spec[f];
    if (v !== undefined && v !== null && (typeof v !== 'string' || !MICRO_TIME.test(v))) {
      out.push(typeInvalid(`spec.${f}`, v, 'must be an RFC 3339 time'));
    }
  }
  return out;
}

/** core/v1 Event: involvedObject is required and must live in the Event's namespace. */
export function validateEvent(event: unknown): StatusCause[] {
  if (!isRecord(event)) return [];
  const io = event.involvedObject;
  if (!isRecord(io)) return [required('involvedObject')];
  const ns = isRecord(event.metadata) ? event.metadata.namespace : undefined;
  const ioNs = typeof io.namespace === 'string' ? io.namespace : '';
  // legacyValidateEvent (no eventTime): an involved object without a namespace (cluster-scoped)
  // may only be reported in "default"; one with a namespace only in its own.
  if (ioNs !== '' && ns !== undefined && ioNs !== ns) {
    return [invalid('involvedObject.namespace', ioNs, 'does not match event.namespace')];
  }
  if (ioNs === '' && ns !== undefined && ns !== '' && ns !== 'default' && !event.eventTime) {
    return [invalid('involvedObject.namespace', ioNs, 'does not match event.namespace')];
  }
  return [];
}

export function validateRbacRules(role: unknown, namespaced: boolean): StatusCause[] {
  if (!isRecord(role) || role.rules === undefined || role.rules === null) return [];
  if (!Array.isArray(role.rules)) return [typeInvalid('rules', role.rules, 'must be a list')];
  const out: StatusCause[] = [];
  role.rules.forEach((rule, i) => {
    const path = index('rules', i);
    if (!isRecord(rule)) return;
    const len = (v: unknown) => (Array.isArray(v) ? v.length : 0);
    if (len(rule.verbs) === 0)
      out.push(required(child(path, 'verbs'), 'verbs must contain at least one value'));
    if (len(rule.nonResourceURLs) > 0) {
      if (namespaced) {
        out.push(
          invalid(
            child(path, 'nonResourceURLs'),
            rule.nonResourceURLs,
            'namespaced rules cannot apply to non-resource URLs',
          ),
        );
      } else if (len(rule.apiGroups) > 0 || len(rule.resources) > 0) {
        out.push(
          invalid(
            child(path, 'nonResourceURLs'),
            rule.nonResourceURLs,
            'rules cannot apply to both regular resources and non-resource URLs',
          ),
        );
      }
      return;
    }
    if (len(rule.apiGroups) === 0)
      out.push(required(child(path, 'apiGroups'), 'resource rules must supply at least one api group'));
    if (len(rule.resources) === 0)
      out.push(required(child(path, 'resources'), 'resource rules must supply at least one resource'));
  });
  return out;
}

const SUBJECT_KINDS = ['Group', 'ServiceAccount', 'User'] as const;
const RBAC_GROUP = 'rbac.authorization.k8s.io';

export function validateRoleBinding(binding: unknown, old: unknown, namespaced: boolean): StatusCause[] {
  if (!isRecord(binding)) return [];
  const out: StatusCause[] = [];
  const ref = binding.roleRef;
  if (!isRecord(ref)) out.push(required('roleRef'));
  else {
    if (ref.apiGroup !== RBAC_GROUP)
      out.push(notSupported('roleRef.apiGroup', ref.apiGroup ?? '', [RBAC_GROUP]));
    const kinds = namespaced ? ['ClusterRole', 'Role'] : ['ClusterRole'];
    if (!kinds.includes(ref.kind as string)) out.push(notSupported('roleRef.kind', ref.kind ?? '', kinds));
    if (typeof ref.name !== 'string' || ref.name === '') out.push(required('roleRef.name'));
  }
  const subjects = Array.isArray(binding.subjects) ? binding.subjects : [];
  subjects.forEach((s, i) => {
    const path = index('subjects', i);
    if (!isRecord(s)) return;
    if (typeof s.name !== 'string' || s.name === '') out.push(required(child(path, 'name')));
    if (!(SUBJECT_KINDS as readonly unknown[]).includes(s.kind))
      out.push(notSupported(child(path, 'kind'), s.kind ?? '', SUBJECT_KINDS));
    if (s.kind === 'ServiceAccount') {
      if (s.apiGroup !== undefined && s.apiGroup !== '')
        out.push(notSupported(child(path, 'apiGroup'), s.apiGroup, ['']));
      if (!namespaced && (typeof s.namespace !== 'string' || s.namespace === ''))
        out.push(required(child(path, 'namespace')));
    } else if ((s.kind === 'User' || s.kind === 'Group') && s.apiGroup !== RBAC_GROUP) {
      out.push(notSupported(child(path, 'apiGroup'), s.apiGroup ?? '', [RBAC_GROUP]));
    }
  });
  if (isRecord(old) && !jsonEqual(old.roleRef, ref))
    out.push(invalid('roleRef', ref, 'cannot change roleRef'));
  return out;
}
