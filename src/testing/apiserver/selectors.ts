import { badRequest } from './errors.js';

/** A parsed `labelSelector` or `fieldSelector`: every requirement must hold. */
export type Selector = (labels: Record<string, string>) => boolean;

type Requirement = (labels: Record<string, string>) => boolean;

const everything: Selector = () => true;

/** Splits on commas that are not inside `( … )`. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

const KEY = '[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?';
const VALUE = '([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?';
const setPattern = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^)]*)\\)$`);
const comparePattern = new RegExp(`^(${KEY})\\s*(==|=|!=|>|<)\\s*(${VALUE})$`);
const existsPattern = new RegExp(`^(!?)\\s*(${KEY})$`);

function parseLabelRequirement(text: string): Requirement {
  let m = setPattern.exec(text);
  if (m) {
    const key = m[1] as string;
    const values = new Set(
      (m[4] as string)
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v.length > 0),
    );
    return m[3] === 'in' ? (l) => key in l && values.has(l[key] as string) : (l) => !(key in l) || !values.has(l[key] as string);
  }
  m = comparePattern.exec(text);
  if (m) {
    const key = m[1] as string;
    const op = m[3] as string;
    const value = m[4] as string;
    switch (op) {
      case '=':
      case '==':
        return (l) => l[key] === value;
      case '!=':
        return (l) => l[key] !== value;
      case '>':
      case '<': {
        const bound = Number(value);
        if (!Number.isInteger(bound)) throw badRequest(`unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer`);
        return (l) => key in l && (op === '>' ? Number(l[key]) > bound : Number(l[key]) < bound);
      }
    }
  }
  m = existsPattern.exec(text);
  if (m) {
    const key = m[2] as string;
    return m[1] === '!' ? (l) => !(key in l) : (l) => key in l;
  }
  // A set whose closing parenthesis is missing: the real parser reaches the end after a value.
  if (new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\([^)]*$`).test(text)) throw badRequest(`unable to parse requirement: found '', expected: ',' or ')'`);
  throw badRequest(`unable to parse requirement: invalid label selector ${JSON.stringify(text)}`);
}

export function parseLabelSelector(text: string | null): Selector {
  if (!text) return everything;
  const requirements = splitTopLevel(text).map(parseLabelRequirement);
  return (labels) => requirements.every((r) => r(labels));
}

function unescapeFieldValue(value: string): string {
  return value.replace(/\\(.)/g, '$1');
}

/** Splits on unescaped commas (field selector values may contain `\,`). */
function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === '\\' && i + 1 < text.length) {
      current += ch + (text[i + 1] as string);
      i++;
    } else if (ch === separator) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts.filter((p) => p.length > 0);
}

/**
 * A field selector over the labels a resource supports (metadata.name, metadata.namespace and any
 * resource-specific ones); other fields are refused the way the API server refuses them.
 */
export function parseFieldSelector(text: string | null, supported: (field: string) => boolean): Selector {
  if (!text) return everything;
  const requirements: Requirement[] = splitUnescaped(text, ',').map((part) => {
    const m = /^([^!=]+?)\s*(==|=|!=)\s*(.*)$/.exec(part.trim());
    if (!m) throw badRequest(`invalid selector: '${text}'; can't understand '${part}'`);
    const field = m[1] as string;
    const value = unescapeFieldValue(m[3] as string);
    if (!supported(field)) throw badRequest(`field label not supported: ${field}`);
    return m[2] === '!=' ? (f) => f[field] !== value : (f) => f[field] === value;
  });
  return (fields) => requirements.every((r) => r(fields));
}
