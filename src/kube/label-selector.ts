/**
 * metav1.LabelSelector ↔ the string form of the `labelSelector` query parameter, and in-memory
 * matching with the same semantics.
 *
 * Empty selectors: for most Kubernetes objects `{}` selects everything. The Link contract
 * (shared/DESIGN.md, "Custom resources") is explicit that a present-but-empty selector mirrors
 * nothing, and a nil selector also selects nothing in apimachinery's LabelSelectorAsSelector. Both
 * therefore give `null` here; the Link default (absent → exported=true) is `linkSelectorToString`.
 */
import { IsthmusError } from '../errors.js';
import { DEFAULT_EXPORT_SELECTOR } from './keys.js';
import type { V1LabelSelector, V1LabelSelectorRequirement } from './types.js';

type Labels = Record<string, string> | undefined;

function invalid(message: string): IsthmusError {
  return new IsthmusError('KUBE_INVALID', `invalid label selector: ${message}`, { terminal: true });
}

function isEmpty(sel: V1LabelSelector | undefined): sel is undefined {
  return (
    sel === undefined ||
    (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0)
  );
}

/** Validates one requirement as apimachinery's NewRequirement does. */
function checkRequirement(req: V1LabelSelectorRequirement): void {
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0) throw invalid(`${req.key}: operator ${req.operator} needs at least one value`);
      return;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length > 0) throw invalid(`${req.key}: operator ${req.operator} takes no values`);
      return;
    default:
      throw invalid(`${req.key}: unknown operator ${JSON.stringify(req.operator)}`);
  }
}

interface Term {
  key: string;
  text: string;
}

function terms(sel: V1LabelSelector): Term[] {
  const out: Term[] = Object.entries(sel.matchLabels ?? {}).map(([k, v]) => ({ key: k, text: `${k}=${v}` }));
  for (const req of sel.matchExpressions ?? []) {
    checkRequirement(req);
    const values = [...(req.values ?? [])].sort().join(',');
    const text =
      req.operator === 'In'
        ? `${req.key} in (${values})`
        : req.operator === 'NotIn'
          ? `${req.key} notin (${values})`
          : req.operator === 'Exists'
            ? req.key
            : `!${req.key}`;
    out.push({ key: req.key, text });
  }
  // apimachinery sorts requirements by key, so equal selectors give equal strings.
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.text < b.text ? -1 : 1));
}

/** The query-string form, or `null` when the selector matches nothing (absent or empty). */
export function labelSelectorToString(sel: V1LabelSelector | undefined): string | null {
  if (isEmpty(sel)) return null;
  return terms(sel)
    .map((t) => t.text)
    .join(',');
}

/** A Link's selector: absent means the default export label; present but empty matches nothing. */
export function linkSelectorToString(sel: V1LabelSelector | undefined): string | null {
  return sel === undefined ? DEFAULT_EXPORT_SELECTOR : labelSelectorToString(sel);
}

function matchesRequirement(req: V1LabelSelectorRequirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, req.key);
  const value = labels[req.key];
  switch (req.operator) {
    case 'In':
      return has && (req.values ?? []).includes(value as string);
    case 'NotIn':
      return !has || !(req.values ?? []).includes(value as string);
    case 'Exists':
      return has;
    default:
      return !has;
  }
}

/** In-memory match with the semantics of labelSelectorToString (absent or empty → false). */
export function matchesLabelSelector(sel: V1LabelSelector | undefined, labels: Labels): boolean {
  if (isEmpty(sel)) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) {
    if (l[k] !== v) return false;
  }
  for (const req of sel.matchExpressions ?? []) {
    checkRequirement(req);
    if (!matchesRequirement(req, l)) return false;
  }
  return true;
}
