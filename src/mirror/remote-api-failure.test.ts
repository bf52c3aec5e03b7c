import { describe, expect, it } from 'vitest';
import { IsthmusError } from '../errors.js';
import { errorFromResponse, errorFromTransport } from '../kube/errors.js';
import { type CredentialsNames, remoteApiFailure, remoteApiReason } from './remote-api-failure.js';

const answer = (status: number, reason: string) =>
  errorFromResponse(
    status,
    { kind: 'Status', code: status, reason, message: reason.toLowerCase() },
    {
      method: 'GET',
      path: '/api/v1/services',
    },
  );
const refusedConnection = errorFromTransport(
  Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
  {
    method: 'GET',
    path: '/api/v1/services',
  },
);

describe('remoteApiReason', () => {
  it.each<[string, unknown, ReturnType<typeof remoteApiReason>]>([
    ['401: the token is rejected', answer(401, 'Unauthorized'), 'Unauthorized'],
    ['403: the account may not list', answer(403, 'Forbidden'), 'Forbidden'],
    ['connection refused', refusedConnection, 'Unreachable'],
    [
      '5xx: reachable but failing, nothing of the credentials',
      answer(503, 'ServiceUnavailable'),
      'Unreachable',
    ],
    ['429', answer(429, 'TooManyRequests'), 'Unreachable'],
    [
      'credentials not computed here (an exec plugin failing): the remote never answered',
      new IsthmusError('KUBE_UNAUTHORIZED', 'GET /api/v1/services: credentials: exec failed'),
      'Unreachable',
    ],
    ['anything else thrown', new Error('timed out'), 'Unreachable'],
    ['nothing', undefined, 'Unreachable'],
  ])('%s', (_, err, want) => {
    expect(remoteApiReason(err)).toBe(want);
  });
});

describe('remoteApiFailure', () => {
  const names = (account?: string): CredentialsNames => ({
    cluster: 'west',
    secret: 'isthmus-system/cluster-credentials-west',
    account,
  });
  const link = (flags: string) =>
    `\`isthmus link --context <west> --cluster-name west${flags} <the Link's other flags> | kubectl apply -f -\``;
  const allow = (account: string) =>
    `\`isthmus allow --context <west> --service-account-name ${account} | kubectl --context <west> apply -f -\``;
  const install =
    "re-apply the install's isthmus-remote-access RBAC in cluster west (`isthmus upgrade --context <west> | kubectl --context <west> apply -f -`)";
  const unauthorized = `GET /api/v1/services: 401 Unauthorized: unauthorized: the remote API server rejects the token in Secret isthmus-system/cluster-credentials-west (revoked, expired or wrong); mirrors are kept meanwhile. Re-create it with `;
  const forbidden = (who: string) =>
    `GET /api/v1/services: 403 Forbidden: forbidden: the ${who} may not read the services, endpointslices and namespaces the Link lists; mirrors are kept meanwhile. To grant it, `;

  it.each<[string, unknown, string | undefined, ReturnType<typeof remoteApiFailure>]>([
    [
      '401, the shared account: the plain re-link',
      answer(401, 'Unauthorized'),
      'isthmus-remote-access',
      { reason: 'Unauthorized', message: `${unauthorized}${link('')}` },
    ],
    [
      '401, an account of its own: re-linked with the same account',
      answer(401, 'Unauthorized'),
      'east-reader',
      { reason: 'Unauthorized', message: `${unauthorized}${link(' --service-account-name east-reader')}` },
    ],
    [
      '403, the shared account: its RBAC comes with the install',
      answer(403, 'Forbidden'),
      'isthmus-remote-access',
      { reason: 'Forbidden', message: `${forbidden('remote account isthmus-remote-access')}${install}` },
    ],
    [
      '403, an account of its own: its binding comes from `isthmus allow`',
      answer(403, 'Forbidden'),
      'east-reader',
      {
        reason: 'Forbidden',
        message: `${forbidden('remote account east-reader')}re-apply its binding with ${allow('east-reader')}, or if that is in place, ${install}`,
      },
    ],
    [
      '403, a Link that records no account (an older `isthmus link`): both ways',
      answer(403, 'Forbidden'),
      undefined,
      {
        reason: 'Forbidden',
        message: `${forbidden('remote account')}for an account made by \`isthmus allow\`, re-run ${allow('<name>')}; for the shared isthmus-remote-access, ${install}`,
      },
    ],
    [
      'connection refused: the error alone, as before',
      refusedConnection,
      'east-reader',
      { reason: 'Unreachable', message: 'GET /api/v1/services: ECONNREFUSED: connect ECONNREFUSED' },
    ],
  ])('%s', (_, err, account, want) => {
    expect(remoteApiFailure(err, names(account))).toEqual(want);
  });
});

describe('remoteApiFailure of one resource', () => {
  it('a 403 names the resource the account may not read, and what the Link lists', () => {
    const err = errorFromResponse(
      403,
      { kind: 'Status', code: 403, reason: 'Forbidden', message: 'forbidden' },
      { method: 'GET', path: '/apis/discovery.k8s.io/v1/endpointslices' },
    );
    const names = {
      cluster: 'west',
      secret: 'isthmus-system/cluster-credentials-west',
      account: 'east-reader',
    };
    expect(remoteApiFailure(err, names, 'endpointslices').message).toContain(
      ': the remote account east-reader may not read endpointslices (the Link lists services, endpointslices and namespaces); mirrors are kept meanwhile. To grant it, re-apply its binding with',
    );
  });

  it('any other failure: the error alone', () => {
    const names = { cluster: 'west', secret: 'isthmus-system/s', account: undefined };
    expect(remoteApiFailure(refusedConnection, names, 'endpointslices').message).toBe(
      'GET /api/v1/services: ECONNREFUSED: connect ECONNREFUSED',
    );
  });
});
