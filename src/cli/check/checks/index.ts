/** The checks of `isthmus check`, in the order they are printed (each a pure function of the facts). */
import type { Check, CheckFacts, CheckResult } from '../types.js';
import { checkCertificates } from './certificates.js';
import { checkController } from './controller.js';
import { checkCrds } from './crds.js';
import { checkCredentials } from './credentials.js';
import { checkDeployments } from './deployments.js';
import { checkEndpointWriters } from './endpoint-writers.js';
import { checkFederated } from './federated.js';
import { checkGatewayListeners } from './gateway-listeners.js';
import { checkGatewaysAlive } from './gateways-alive.js';
import { notInstalled } from './installed.js';
import { checkExportsMirrored, checkLinksValid } from './links.js';
import { checkMirrorEndpoints, checkMirrorsOwned } from './mirrors.js';
import { checkPermissions } from './permissions.js';
import { checkRevocation } from './revocation.js';
import { checkTrafficSplits } from './traffic-splits.js';
import { checkTrustAnchor } from './trust-anchor.js';
import { checkVersions } from './versions.js';

export const CHECKS: readonly Check[] = [
  checkCrds,
  checkDeployments,
  checkLinksValid,
  checkCredentials,
  checkTrustAnchor,
  checkRevocation,
  checkPermissions,
  checkEndpointWriters,
  checkController,
  checkGatewaysAlive,
  checkMirrorEndpoints,
  checkGatewayListeners,
  checkMirrorsOwned,
  checkExportsMirrored,
  checkFederated,
  checkTrafficSplits,
  checkCertificates,
  checkVersions,
];

/** Every check, or only the failure that Isthmus is not installed here (installed.ts). */
export function runChecks(facts: CheckFacts, checks: readonly Check[] = CHECKS): CheckResult[] {
  const missing = notInstalled(facts);
  return missing ? [missing] : checks.map((check) => check(facts));
}

export { expiryVerdict } from './certificates.js';
export {
  checkCertificates,
  checkController,
  checkCrds,
  checkCredentials,
  checkDeployments,
  checkExportsMirrored,
  checkFederated,
  checkGatewayListeners,
  checkGatewaysAlive,
  checkLinksValid,
  checkMirrorEndpoints,
  checkMirrorsOwned,
  checkPermissions,
  checkRevocation,
  checkTrafficSplits,
  checkTrustAnchor,
  checkVersions,
};
