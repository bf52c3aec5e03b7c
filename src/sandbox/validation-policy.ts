/**
 * policy/v1 PodDisruptionBudget (`pkg/apis/policy/validation`, ValidatePodDisruptionBudgetSpec):
 * the spec rules `kubectl apply` of an install meets, messages as kube words them.
 */
import {
  child,
  invalid,
  notSupported,
  type StatusCause,
  typeInvalid,
} from '../kube/validation/field-errors.js';
import { isRecord } from '../kube/validation/json-values.js';
import { validateLabelSelector } from '../kube/validation/meta.js';

const EVICTION_POLICIES = ['AlwaysAllow', 'IfHealthyBudget'];

/** apps ValidatePositiveIntOrPercent and IsNotMoreThan100Percent. */
function intOrPercent(value: unknown, field: string): StatusCause[] {
  if (typeof value === 'number') {
    if (!Number.isInteger(value))
      return [typeInvalid(field, value, 'must be an integer or a percent string')];
    return value < 0 ? [invalid(field, value, 'must be greater than or equal to 0')] : [];
  }
  if (typeof value !== 'string') return [typeInvalid(field, value, 'must be an integer or a percent string')];
  if (!/^[0-9]+%$/.test(value)) {
    return [
      invalid(
        field,
        value,
        "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
      ),
    ];
  }
  return Number(value.slice(0, -1)) > 100 ? [invalid(field, value, 'must not be greater than 100%')] : [];
}

export function validatePodDisruptionBudget(pdb: unknown): StatusCause[] {
  if (!isRecord(pdb)) return [];
  const spec = isRecord(pdb.spec) ? pdb.spec : {};
  const out: StatusCause[] = [];
  if (spec.minAvailable !== undefined && spec.maxUnavailable !== undefined) {
    out.push(invalid('spec', spec, 'minAvailable and maxUnavailable cannot be both set'));
  }
  for (const key of ['minAvailable', 'maxUnavailable'] as const) {
    if (spec[key] !== undefined) out.push(...intOrPercent(spec[key], child('spec', key)));
  }
  out.push(...validateLabelSelector(spec.selector, 'spec.selector'));
  const policy = spec.unhealthyPodEvictionPolicy;
  if (policy !== undefined && !EVICTION_POLICIES.includes(String(policy))) {
    out.push(notSupported('spec.unhealthyPodEvictionPolicy', policy, EVICTION_POLICIES));
  }
  return out;
}
