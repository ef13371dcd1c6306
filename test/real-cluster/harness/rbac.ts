import { readFileSync } from 'node:fs';

/**
 * Permissions as `group/resource[/subresource]:verb` strings (the core group is empty:
 * `/events:create`), from RBAC rules on one side and from the API server's audit log on the other,
 * so that "what is granted" and "what was asked for" can be compared as sets.
 */

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export function permission(group: string, resource: string, verb: string): string {
  return `${group}/${resource}:${verb}`;
}

/**
 * Every permission the rules grant. Wildcards and resourceNames are kept as written (`/*:get`,
 * `/secrets#name:get`), so a rule that grants more than its spelled-out combinations never compares
 * equal to a set of requests.
 */
export function granted(rules: readonly PolicyRule[]): Set<string> {
  const out = new Set<string>();
  for (const rule of rules) {
    if (rule.nonResourceURLs?.length) for (const url of rule.nonResourceURLs) for (const verb of rule.verbs ?? []) out.add(`nonresource ${url}:${verb}`);
    const names = rule.resourceNames?.length ? `#${rule.resourceNames.join(',')}` : '';
    for (const group of rule.apiGroups ?? []) for (const resource of rule.resources ?? []) for (const verb of rule.verbs ?? []) out.add(permission(group, `${resource}${names}`, verb));
  }
  return out;
}

export interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string };
  userAgent?: string;
  objectRef?: { resource?: string; subresource?: string; apiGroup?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
}

/** The audit events of one user, one per request (the last stage logged wins). */
export function auditedRequests(auditLog: string, username: string): AuditEvent[] {
  const byId = new Map<string, AuditEvent>();
  const lines = readFileSync(auditLog, 'utf8').split('\n');
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    let event: AuditEvent;
    try {
      event = JSON.parse(line) as AuditEvent;
    } catch (error) {
      if (index === lines.length - 1) return; // a line still being written
      throw error;
    }
    if (event.user?.username === username) byId.set(event.auditID, event);
  });
  return [...byId.values()];
}

export function requestPermission(event: AuditEvent): string {
  const ref = event.objectRef;
  if (!ref?.resource) return `nonresource ${event.requestURI.split('?')[0]}:${event.verb}`;
  return permission(ref.apiGroup ?? '', ref.subresource ? `${ref.resource}/${ref.subresource}` : ref.resource, event.verb);
}

/** What one set has that the other lacks, sorted, for readable failures. */
export function compare(expected: ReadonlySet<string>, actual: ReadonlySet<string>): { missing: string[]; extra: string[] } {
  return {
    missing: [...expected].filter((p) => !actual.has(p)).sort(),
    extra: [...actual].filter((p) => !expected.has(p)).sort(),
  };
}
