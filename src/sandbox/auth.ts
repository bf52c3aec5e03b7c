/**
 * Authentication (bearer tokens: static ones registered from code, and ServiceAccount tokens the
 * token controller issued) and authorization (static rules, `admin`, then RBAC), plus the
 * TokenReview answer. A missing or unknown token is 401; an authenticated but unauthorized
 * request is 403 with kube-apiserver's wording.
 */
import { forbidden, unauthorized } from './api-status.js';
import {
  forbiddenMessage,
  type PolicyRule,
  type ResourceAttributes,
  rbacAllows,
  staticRuleAllows,
  type UserInfo,
} from './rbac.js';
import type { ObjectStore } from './store.js';
import type { SystemControllers } from './system-controllers.js';

export interface StaticUser {
  username: string;
  groups?: string[];
  rules: PolicyRule[] | 'admin';
}

export interface Principal {
  user: UserInfo;
  /** Static rules of the token; undefined for ServiceAccounts (RBAC only). */
  rules: PolicyRule[] | 'admin' | undefined;
}

export class Auth {
  private readonly staticTokens = new Map<string, StaticUser>();

  constructor(
    private readonly store: ObjectStore,
    private readonly controllers: SystemControllers,
  ) {}

  addToken(token: string, user: StaticUser): void {
    this.staticTokens.set(token, user);
  }

  /** The principal a token stands for, undefined when it is unknown. */
  lookup(token: string): Principal | undefined {
    const s = this.staticTokens.get(token);
    if (s) {
      const groups = [...(s.groups ?? [])];
      if (s.rules === 'admin' && !groups.includes('system:masters')) groups.push('system:masters');
      groups.push('system:authenticated');
      return { user: { username: s.username, groups }, rules: s.rules };
    }
    const sa = this.controllers.serviceAccountFor(token);
    if (!sa) return undefined;
    return {
      user: {
        username: `system:serviceaccount:${sa.namespace}:${sa.name}`,
        uid: sa.uid,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${sa.namespace}`, 'system:authenticated'],
      },
      rules: undefined,
    };
  }

  /** `Authorization: Bearer <token>` → principal, or 401. */
  authenticate(header: string | undefined): Principal {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    const principal = m ? this.lookup(m[1]!) : undefined;
    if (!principal) throw unauthorized();
    return principal;
  }

  allows(p: Principal, a: ResourceAttributes): boolean {
    if (p.rules === 'admin') return true;
    // The bootstrap policy's system:basic-user (bound to system:authenticated): anyone may ask
    // what they themselves may do.
    if (
      a.verb === 'create' &&
      a.group === 'authorization.k8s.io' &&
      a.resource === 'selfsubjectaccessreviews'
    )
      return true;
    if (p.rules?.some((r) => staticRuleAllows(r, a))) return true;
    return rbacAllows(this.store, p.user, a);
  }

  /** Throws 403 Forbidden worded as the RBAC authorizer's denial. */
  authorize(p: Principal, a: ResourceAttributes): void {
    if (this.allows(p, a)) return;
    throw forbidden({ group: a.group, resource: a.resource }, a.name, forbiddenMessage(p.user, a));
  }

  /**
   * SubjectAccessReview for a user the caller names (not a token): RBAC, with system:masters
   * allowed everything as the bootstrap policy does. Static test tokens are not users here.
   */
  reviewAccess(user: UserInfo, a: ResourceAttributes): boolean {
    return user.groups.includes('system:masters') || rbacAllows(this.store, user, a);
  }

  /** TokenReview status for a token (authentication.k8s.io/v1). */
  review(token: string): Record<string, unknown> {
    const p = this.lookup(token);
    if (!p) return { authenticated: false, user: {}, error: 'invalid bearer token' };
    const user: Record<string, unknown> = { username: p.user.username, groups: p.user.groups };
    if (p.user.uid) user.uid = p.user.uid;
    return { authenticated: true, user, audiences: ['https://kubernetes.default.svc.cluster.local'] };
  }
}
