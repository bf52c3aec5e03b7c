/**
 * Checks of the Link values `isthmus link` also takes as flags, shared by the CLI
 * (src/cli/link/options.ts) and the controller (parseLinkSpec) so the two cannot drift: a
 * hand-written Link is refused (LinkInvalid) for what the CLI refuses, rather than failing later
 * where the value is used (a remote list answered 400, a dial of `host:port:port`, a pattern that
 * silently matches nothing). Pure; each returns the reason, or undefined when the value is fine.
 */
import { isIP } from 'node:net';
import type { V1LabelSelector } from '../kube/types.js';
import { validateLabelSelector } from '../kube/validation/meta.js';
import { isDNS1123Subdomain, isQualifiedName } from '../kube/validation/strings.js';

const SELECTOR_OPERATORS = new Set(['In', 'NotIn', 'Exists', 'DoesNotExist']);

/**
 * A label selector by kube's rules (metav1 ValidateLabelSelector): first operators and their
 * values (in Isthmus's words, which users already see), then keys (qualified names) and values
 * (label values) worded as kube-apiserver's 422 causes
 * (`selector.matchExpressions[0].key: Invalid value: "bad key!": …`, several as `[a, b]`).
 */
export function labelSelectorProblem(field: string, selector: V1LabelSelector): string | undefined {
  for (const e of selector.matchExpressions ?? []) {
    if (!SELECTOR_OPERATORS.has(e.operator))
      return `${field} operator ${JSON.stringify(e.operator)} is not supported`;
    const needsValues = e.operator === 'In' || e.operator === 'NotIn';
    if (needsValues !== (e.values ?? []).length > 0) {
      return `${field} operator ${e.operator} on ${e.key} ${needsValues ? 'needs' : 'takes no'} values`;
    }
  }
  const causes = validateLabelSelector(selector, field).map((c) => `${c.field}: ${c.message}`);
  if (causes.length === 0) return undefined;
  return causes.length === 1 ? causes[0] : `[${causes.join(', ')}]`;
}

/**
 * An `excludedLabels`/`excludedAnnotations` entry: a key, or `prefix/*` for every key under
 * `prefix/` (matchesPattern). Anything else, such as a lone `*`, would be compared as a literal key
 * and exclude nothing. Annotation keys are checked ignoring case, as kube's ValidateAnnotations does.
 */
export function keyPatternProblem(pattern: string, kind: 'label' | 'annotation'): string | undefined {
  const key = kind === 'annotation' ? pattern.toLowerCase() : pattern;
  const errs = key.endsWith('/*') ? prefixErrors(key.slice(0, -2)) : isQualifiedName(key);
  if (errs.length === 0) return undefined;
  const what = kind === 'label' ? 'a label key' : 'an annotation key';
  return `${JSON.stringify(pattern)} is neither ${what} nor a prefix/* wildcard: ${errs.join('; ')}`;
}

function prefixErrors(prefix: string): string[] {
  if (prefix === '') return ['prefix part must be non-empty'];
  return isDNS1123Subdomain(prefix).map((msg) => `prefix part ${msg}`);
}

/**
 * One address of `gatewayAddress`: an IP or a DNS name, as a LoadBalancer's status lists them. It is
 * dialled as `<address>:<gatewayPort>`, so a port or brackets here would never answer; `portWhere`
 * says where the port goes instead ("with --gateway-port", "in gatewayPort").
 */
export function gatewayAddressProblem(address: string, portWhere: string): string | undefined {
  // A fully qualified name may end with the root's dot (`gw.example.com.`), skipping search domains.
  const name = address.toLowerCase().replace(/(?<=.)\.$/, '');
  if (isIP(address) !== 0 || isDNS1123Subdomain(name).length === 0) return undefined;
  const bracketed = /^\[(.*)\]$/.exec(address);
  const hint = /^(\[[^\]]*\]|[^:]+):\d+$/.test(address)
    ? `: give the address alone, and its port ${portWhere}`
    : bracketed && isIP(bracketed[1] ?? '') === 6
      ? `: write the IPv6 address without brackets (${bracketed[1]})`
      : '';
  return `${JSON.stringify(address)} is neither an IP address nor a DNS name${hint}`;
}
