/**
 * Does the control plane run this CLI's version? As Linkerd's "control plane and cli versions
 * match", only a warning: a CLI a release ahead or behind mostly works, but its `install` output
 * would change the pods, and its checks may expect what those pods do not do. Pods installed by a
 * CLI that recorded no version, or from an image whose tag is no version, count as another version. Pods that cannot be listed only warn:
 * the other checks say whether the install works.
 */
import { VERSION } from '../../../version.js';
import type { CheckFacts, CheckResult } from '../types.js';
import { describeCounts, UNKNOWN_VERSION } from '../versions-view.js';
import { resultOf } from './result.js';

export function checkVersions(facts: CheckFacts): CheckResult {
  const what = "the control plane runs the CLI's version";
  if (!facts.podVersions.ok)
    return resultOf(what, [], [`cannot list the pods in isthmus-system: ${facts.podVersions.error}`]);
  const warnings: string[] = [];
  for (const { component, pods } of facts.podVersions.value) {
    // An image tagged v0.1.0 runs 0.1.0: the leading v is a tagging habit, not another version.
    const others = Object.fromEntries(Object.entries(pods).filter(([v]) => v.replace(/^v/, '') !== VERSION));
    if (Object.keys(others).length === 0) continue;
    const unknown =
      UNKNOWN_VERSION in others
        ? ' (unknown: an image tagged with no version, such as a digest or latest, or an install that did not record it)'
        : '';
    warnings.push(
      `${component}: pods of another version than this CLI: ${describeCounts(others)}${unknown}; ` +
        `mid-upgrade, wait for the rollout; otherwise use the CLI of the installed version, or upgrade with \`isthmus upgrade | kubectl apply -f -\` from this one`,
    );
  }
  return resultOf(what, [], warnings);
}
