/**
 * How kube-apiserver settles a Service's `ipFamilyPolicy` and `ipFamilies` before allocating its
 * cluster IPs (pkg/registry/core/service/storage/alloc.go, initIPFamilyFields), for a cluster whose
 * service CIDRs give it one family or two (`configured`, the primary first).
 */
import { invalid, type StatusCause } from '../kube/validation/field-errors.js';
import { familyOf, type IPFamily } from './ip-allocator.js';

type Obj = Record<string, unknown>;

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x) => typeof x === 'string') : []);
const sameList = (a: unknown, b: unknown) => JSON.stringify(strings(a)) === JSON.stringify(strings(b));
const other = (f: IPFamily): IPFamily => (f === 'IPv4' ? 'IPv6' : 'IPv4');

/** Headless and selectorless: the one Service shape that may list both families on any cluster. */
function headlessSelectorless(spec: Obj): boolean {
  const selector = spec.selector;
  const empty = !selector || typeof selector !== 'object' || Object.keys(selector).length === 0;
  return spec.clusterIP === 'None' && empty;
}

/** Update only: shrinking clusterIPs or ipFamilies needs SingleStack, which then trims them. */
function updateCauses(spec: Obj, oldSpec: Obj): StatusCause[] {
  if (spec.ipFamilyPolicy === 'SingleStack') {
    if (sameList(spec.clusterIPs, oldSpec.clusterIPs) && strings(spec.clusterIPs).length > 1) {
      spec.clusterIPs = strings(spec.clusterIPs).slice(0, 1);
    }
    if (sameList(spec.ipFamilies, oldSpec.ipFamilies) && strings(spec.ipFamilies).length > 1) {
      spec.ipFamilies = strings(spec.ipFamilies).slice(0, 1);
    }
    return [];
  }
  const causes: StatusCause[] = [];
  const reduced = (field: string) => strings(spec[field]).length < strings(oldSpec[field]).length;
  if (reduced('clusterIPs')) {
    causes.push(
      invalid(
        'spec.ipFamilyPolicy',
        spec.ipFamilyPolicy,
        "must be 'SingleStack' to release the secondary cluster IP",
      ),
    );
  }
  if (reduced('ipFamilies')) {
    causes.push(
      invalid(
        'spec.ipFamilyPolicy',
        spec.ipFamilyPolicy,
        "must be 'SingleStack' to release the secondary IP family",
      ),
    );
  }
  return causes;
}

/**
 * Defaults the policy and families of a Service being created or updated, in place, and returns
 * what makes it impossible on this cluster. ExternalName Services have neither.
 */
export function initIPFamilies(spec: Obj, oldSpec: Obj | undefined, configured: IPFamily[]): StatusCause[] {
  if (spec.type === 'ExternalName') return [];
  // A PreferDualStack Service is never upgraded or downgraded by a change of the cluster alone.
  if (
    oldSpec?.ipFamilyPolicy === 'PreferDualStack' &&
    spec.ipFamilyPolicy === 'PreferDualStack' &&
    sameList(spec.clusterIPs, oldSpec.clusterIPs) &&
    sameList(spec.ipFamilies, oldSpec.ipFamilies)
  ) {
    return [];
  }
  spec.ipFamilyPolicy ??=
    (oldSpec?.ipFamilyPolicy as string | undefined) ??
    (headlessSelectorless(spec) ? 'RequireDualStack' : 'SingleStack');
  const causes = oldSpec ? updateCauses(spec, oldSpec) : [];
  const single = spec.ipFamilyPolicy === 'SingleStack';
  if (single && strings(spec.clusterIPs).length === 2) {
    causes.push(
      invalid(
        'spec.ipFamilyPolicy',
        spec.ipFamilyPolicy,
        "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified",
      ),
    );
  }
  const families = strings(spec.ipFamilies) as IPFamily[];
  // Families the cluster IPs imply, where ipFamilies does not list them.
  strings(spec.clusterIPs).forEach((ip, i) => {
    if (ip === 'None' || i < families.length) return;
    const family = familyOf(ip);
    if (!family) return;
    if (configured.includes(family)) families.push(family);
    else
      causes.push(
        invalid(`spec.clusterIPs[${i}]`, spec.clusterIPs, `${family} is not configured on this cluster`),
      );
  });
  if (causes.length > 0) return causes;
  const primary = configured[0] ?? 'IPv4';
  if (headlessSelectorless(spec)) {
    if (families.length === 0) families.push(primary);
    if (families.length < 2 && !single) families.push(other(families[0]!));
    spec.ipFamilies = families;
    return [];
  }
  if (spec.ipFamilyPolicy === 'RequireDualStack' && configured.length < 2) {
    causes.push(
      invalid(
        'spec.ipFamilyPolicy',
        spec.ipFamilyPolicy,
        'this cluster is not configured for dual-stack services',
      ),
    );
  }
  families.forEach((family, i) => {
    if (!configured.includes(family)) {
      causes.push(invalid(`spec.ipFamilies[${i}]`, family, 'not configured on this cluster'));
    }
  });
  if (causes.length > 0) return causes;
  if (families.length === 0) families.push(primary);
  if (!single && families.length === 1 && configured.length === 2) families.push(other(families[0]!));
  spec.ipFamilies = families;
  return [];
}
