/**
 * Denied permissions, the test server's stand-in for RBAC: by default its one user may do
 * everything; a test that needs a missing grant lists it here. A denied request is answered 403 with
 * the real authorizer's wording, and a SelfSubjectAccessReview for it answers `allowed: false`, so a
 * caller sees a missing grant the same way both ways.
 */
export interface DeniedAccess {
  verb: string;
  /** API group; '' (the default) is the core group. */
  group?: string;
  resource: string;
  /** e.g. `status`; unset matches the resource itself only. */
  subresource?: string;
  /** Deny only in this namespace; unset denies everywhere. */
  namespace?: string;
}

export interface AccessAttributes {
  verb: string;
  group: string;
  resource: string;
  subresource: string;
  namespace: string;
}

/** The user the test server's kubeconfig authenticates as, as the authorizer names it. */
export const TEST_USER = 'kube-test-user';

export class AccessPolicy {
  constructor(private readonly denied: readonly DeniedAccess[] = []) {}

  allows(a: AccessAttributes): boolean {
    return !this.denied.some(
      (d) =>
        d.verb === a.verb &&
        (d.group ?? '') === a.group &&
        d.resource === a.resource &&
        (d.subresource ?? '') === a.subresource &&
        (d.namespace === undefined || d.namespace === a.namespace),
    );
  }

  /** The authorizer's reason text for a denied request. */
  static reason(a: AccessAttributes): string {
    const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
    const where = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
    return `User "${TEST_USER}" cannot ${a.verb} resource "${resource}" in API group "${a.group}" ${where}`;
  }
}
