import type { CheckFacts, CheckResult } from '../types.js';
import { resultOf, unreadable } from './result.js';

/** The CRDs `isthmus install` applies (manifests/crds). */
export const REQUIRED_CRDS = ['links.multicluster.isthmus.dev', 'trafficsplits.split.smi-spec.io'] as const;

const WHAT = 'Link and TrafficSplit CRDs are installed';

export function checkCrds(facts: CheckFacts): CheckResult {
  const blocked = unreadable(WHAT, 'CustomResourceDefinitions', facts.crds);
  if (blocked || !facts.crds.ok) return blocked!;
  const installed = facts.crds.value;
  const missing = REQUIRED_CRDS.filter((name) => !installed[name]);
  return resultOf(
    WHAT,
    missing.map((name) => `CRD ${name} is missing: run \`isthmus install ... | kubectl apply -f -\``),
  );
}
