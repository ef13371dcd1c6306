import { errorText } from '../csi/errors.js';
import type { Logger } from '../observe/logger.js';
import { goQuote } from './messages.js';

export interface SecretRef {
  name: string;
  namespace: string;
}

/**
 * The Secret named by a content's deletion-secret annotations (set by the snapshot-controller from
 * the class, or by the user on a pre-provisioned content). Both keys present: that Secret (an empty
 * value is an error); otherwise no Secret.
 */
export function secretRefFromAnnotations(
  annotations: Record<string, string> | undefined,
  keys: { name: string; namespace: string },
  what: { kind: 'snapshot content' | 'group snapshot content'; name: string },
): SecretRef | undefined {
  const a = annotations ?? {};
  if (!(keys.name in a) || !(keys.namespace in a)) return undefined;
  const name = a[keys.name] as string;
  const namespace = a[keys.namespace] as string;
  if (name === '' || namespace === '') {
    throw new Error(`cannot retrieve secrets for ${what.kind} ${goQuote(what.name)}, err: secret name or namespace not specified`);
  }
  return { name, namespace };
}

/**
 * The data of the Secret a content's deletion-secret annotations name (used for its create, poll and
 * delete calls); no Secret named gives no secrets. A Secret that cannot be read is reported in the
 * Go sidecar's words, without its name (which is logged at verbosity 4 instead).
 */
export async function annotationSecretData(options: {
  annotations: Record<string, string> | undefined;
  keys: { name: string; namespace: string };
  what: { kind: 'snapshot content' | 'group snapshot content'; name: string };
  getSecret(ref: SecretRef): Promise<Record<string, string>>;
  log: Logger;
}): Promise<Record<string, string>> {
  const ref = secretRefFromAnnotations(options.annotations, options.keys, options.what);
  if (!ref) return {};
  try {
    return await options.getSecret(ref);
  } catch (err) {
    options.log.v(4).info('Cannot read the Secret named by the deletion-secret annotations', { secret: `${ref.namespace}/${ref.name}`, error: errorText(err) });
    throw new Error(`cannot get credentials for ${options.what.kind} ${goQuote(options.what.name)}`);
  }
}

// Written as functions rather than module constants so that mutation testing can try each
// variant of the pattern (a module-level value is built once per test process).
function isDns1123Label(value: string): boolean {
  return value.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value);
}

function isDns1123Subdomain(value: string): boolean {
  return value.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(value);
}

/**
 * Expands `$var` / `${var}` with the given variables. References to anything else are an error
 * listing them, sorted and quoted, as the Go helper does.
 */
export function expandTemplate(template: string, variables: Record<string, string>): string {
  const unknown = new Set<string>();
  const out = template.replace(/\$\{([^}]*)\}|\$([A-Za-z0-9_.]+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    // Stryker disable next-line StringLiteral: the pattern always captures one of the two groups; '' only satisfies the type.
    const name = braced ?? bare ?? '';
    if (name in variables) return variables[name] as string;
    unknown.add(name);
    return whole;
  });
  if (unknown.size > 0) {
    throw new Error(`error resolving value ${goQuote(template)}: invalid tokens: [${[...unknown].sort().map(goQuote).join(' ')}]`);
  }
  return out;
}

/**
 * A Secret reference from class parameters `<prefix>-secret-name` / `-namespace` (for example the
 * list secret of pre-provisioned contents), with the variables the sidecar knows substituted.
 * `label` names the pair in messages (SnapshotterList, GroupSnapshotterGet).
 */
export function secretRefFromParameters(
  parameters: Record<string, string> | undefined,
  prefix: string,
  label: string,
  variables: Record<string, string>,
): SecretRef | undefined {
  const p = parameters ?? {};
  const nameKey = `${prefix}-secret-name`;
  const namespaceKey = `${prefix}-secret-namespace`;
  const hasName = nameKey in p;
  const hasNamespace = namespaceKey in p;
  if (!hasName && !hasNamespace) return undefined;
  if (hasName !== hasNamespace) {
    throw new Error(`failed to get name and namespace template from params: either name and namespace for ${label} secrets specified, Both must be specified`);
  }
  const nameTemplate = p[nameKey] as string;
  const namespaceTemplate = p[namespaceKey] as string;
  if (nameTemplate === '' || namespaceTemplate === '') {
    throw new Error(`failed to get name and namespace template from params: ${label} secrets specified in parameters but value of either namespace or name is empty`);
  }
  const namespace = expandTemplate(namespaceTemplate, variables);
  if (!isDns1123Label(namespace)) {
    throw new Error(
      namespace === namespaceTemplate
        ? `${goQuote(namespaceTemplate)} is not a valid namespace name`
        : `${goQuote(namespaceTemplate)} resolved to ${goQuote(namespace)} which is not a valid namespace name`,
    );
  }
  const name = expandTemplate(nameTemplate, variables);
  if (!isDns1123Subdomain(name)) {
    throw new Error(
      name === nameTemplate
        ? `${goQuote(nameTemplate)} is not a valid secret name`
        : `${goQuote(nameTemplate)} resolved to ${goQuote(name)} which is not a valid secret name`,
    );
  }
  return { name, namespace };
}

/** A Secret's `data` (base64) as the string map CSI takes. */
export function secretData(data: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(data ?? {})) out[key] = Buffer.from(value, 'base64').toString('utf8');
  return out;
}
