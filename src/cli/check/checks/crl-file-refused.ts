/**
 * What the running gateway and identity pods say of the CRL file they hold (their admin `/metrics`,
 * gather.ts): the revocation check judges the isthmus-crl ConfigMap on its own, but a gateway also
 * refuses a reload against the list it already holds (src/identity/revocation.ts `refusalFrom`: a
 * CA's CRL number going back, a still-usable CA's CRL dropped, an emptied file) and keeps that list,
 * so new revocations in the file are not enforced there. Its gauge
 * `isthmus_gateway_crl_file_refused` says so for as long as the file stays (identity's
 * `isthmus_identity_crl_file_refused` alike). A pod that could not be read is a warning, not a pass;
 * one that serves no such gauge (a version before it) is left out.
 */
import type { CheckFacts, CrlFileState } from '../types.js';

export interface CrlFileRefusals {
  failures: string[];
  warnings: string[];
  /** The pods refusing the file (`gateway pods a, b`, then identity's), for a hint that names why. */
  refusing: string[];
}

const REFUSE_ADVICE =
  'fix the ConfigMap: rebuild crl.pem with `isthmus certs revoke` from the directory of `isthmus certs` (it refuses to write such a file) and apply it as isthmus-crl; do not restart a pod to clear this: a restart takes the refused file and lifts the revocations it drops. Expected at step 3 of an anchor rotation, until the restart that step asks for';

/** What to do when the ConfigMap is gone: a pod started without the file revokes nothing. */
const RECREATE =
  'recreate the ConfigMap from the `crl.pem` of `isthmus certs revoke` (kubectl -n isthmus-system create configmap isthmus-crl --from-file=crl.pem=certs/crl.pem), and do not restart a pod meanwhile: it would start with nothing revoked';

/** The refusals and unread pods of `facts.crlFileStates`; nothing when it was not read. */
export function crlFileRefusals(facts: Pick<CheckFacts, 'crlFileStates' | 'crlPem'>): CrlFileRefusals {
  const states = facts.crlFileStates;
  if (states === undefined) return { failures: [], warnings: [], refusing: [] };
  if (!states.ok)
    return {
      failures: [],
      warnings: [`cannot read whether the gateway and identity pods refused the CRL file: ${states.error}`],
      refusing: [],
    };
  const warnings = states.value.flatMap((s) =>
    s.ok
      ? []
      : [
          `cannot read whether ${s.component} pod ${s.pod} refused the CRL file (/metrics on its admin port): ${s.error}; it is not judged`,
        ],
  );
  const refusingOf = (component: CrlFileState['component']) =>
    states.value.filter((s) => s.component === component && s.ok && s.refused === true).map((s) => s.pod);
  const gateways = refusingOf('gateway');
  const identities = refusingOf('identity');
  const gone = facts.crlPem.ok && facts.crlPem.value === undefined;
  const failures = [
    ...(gateways.length > 0 ? [gatewayRefusal(gateways, gone)] : []),
    ...(identities.length > 0 ? [identityRefusal(identities, gone)] : []),
  ];
  return {
    failures,
    warnings,
    refusing: [
      ...(gateways.length > 0 ? [pods('gateway', gateways)] : []),
      ...(identities.length > 0 ? [pods('identity', identities)] : []),
    ],
  };
}

const pods = (what: string, names: readonly string[]) =>
  `${what} pod${names.length > 1 ? 's' : ''} ${names.join(', ')}`;

function gatewayRefusal(names: readonly string[], gone: boolean): string {
  const which = gone
    ? `the file vanished with the isthmus-crl ConfigMap, and the list loaded before stays in force; ${RECREATE}`
    : `the file is a rollback (a CA's CRL number lower than the one in force), a dropped CA's CRL (a still-usable CA's CRL left out) or an emptied file, as the log line "CRL update refused" says; the list held stays in force, so new revocations in the file are not enforced there; ${REFUSE_ADVICE}`;
  return `${pods('gateway', names)} refused the CRL file of isthmus-crl against the list ${names.length > 1 ? 'they hold' : 'it holds'} (isthmus_gateway_crl_file_refused 1): ${which}`;
}

function identityRefusal(names: readonly string[], gone: boolean): string {
  const which = gone
    ? `the file vanished with the isthmus-crl ConfigMap, and the list loaded before stays in force; ${RECREATE}`
    : `identity checks its own serving certificate against the list in force, not the file's new revocations; its log line "identity: CRL update refused" (or "identity: CRL refused" at start) says why; ${REFUSE_ADVICE.replace(
        'until the restart that step asks for',
        'until identity reloads the new anchor, which it does without a restart',
      )}`;
  return `${pods('identity', names)} refused the CRL file of isthmus-crl (isthmus_identity_crl_file_refused 1): ${which}`;
}
