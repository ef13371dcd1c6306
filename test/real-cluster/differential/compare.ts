import { parseJson as parse, toJson as stringify } from '../../../src/testing/apiserver/json.js';

/**
 * A step where the API test server deliberately answers differently from the real kube-apiserver.
 * The test server's answer is pinned exactly, so any other change in that step still shows.
 */
export interface StepDifference {
  step: string;
  reason: string;
  /** The test server's `-> <status>` and normalised body line for this step. */
  testServer: { status: number; body: string };
}

/** A metadata member only the real server sends (in every object, list item and watch event). */
export interface MetadataDifference {
  member: string;
  reason: string;
}

export interface Allowlist {
  steps: StepDifference[];
  metadata: MetadataDifference[];
}

interface Step {
  name: string;
  request: string;
  status: string;
  body: string;
}

/** Splits a transcript (`## name`, `METHOD path -> status [warning]`, body) into steps. */
function stepsOf(lines: readonly string[]): Step[] {
  const steps: Step[] = [];
  for (let i = 0; i < lines.length; i += 3) {
    const [name = '', result = '', body = ''] = lines.slice(i, i + 3);
    const arrow = result.indexOf(' -> ');
    steps.push({ name: name.replace(/^## /, ''), request: result.slice(0, arrow), status: result.slice(arrow + 4), body });
  }
  return steps;
}

/** Removes `metadata.<member>` from every object in a body line; returns whether it found any. */
function stripMetadata(body: string, members: readonly string[]): { body: string; found: Set<string> } {
  const found = new Set<string>();
  let parsed: unknown;
  try {
    parsed = parse(body);
  } catch {
    return { body, found };
  }
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') {
      const object = value as Record<string, unknown>;
      const metadata = object.metadata;
      if (metadata && typeof metadata === 'object' && !Array.isArray(metadata)) {
        for (const member of members) {
          if (member in metadata) {
            found.add(member);
            delete (metadata as Record<string, unknown>)[member];
          }
        }
      }
      Object.values(object).forEach(walk);
    }
  };
  walk(parsed);
  return { body: stringify(parsed), found };
}

/**
 * Compares the transcript of the real server with the test server's. Returns one message per
 * difference the allowlist does not name, and per allowlist entry that no longer matches anything
 * (so the list cannot outlive the differences it describes). Empty means the servers agree.
 */
export function compareTranscripts(real: readonly string[], ours: readonly string[], allowlist: Allowlist): string[] {
  const problems: string[] = [];
  const realSteps = stepsOf(real);
  const ourSteps = stepsOf(ours);
  const names = (steps: Step[]): string => steps.map((s) => s.name).join(' | ');
  if (names(realSteps) !== names(ourSteps)) {
    return [`the step sequences differ:\n  real: ${names(realSteps)}\n  test: ${names(ourSteps)}`];
  }
  const members = allowlist.metadata.map((m) => m.member);
  const membersSeen = new Set<string>();
  const stepsSeen = new Set<string>();
  realSteps.forEach((realStep, i) => {
    const ourStep = ourSteps[i] as Step;
    const stripped = stripMetadata(realStep.body, members);
    stripped.found.forEach((m) => membersSeen.add(m));
    const ourMembers = stripMetadata(ourStep.body, members).found;
    if (ourMembers.size > 0) problems.push(`${realStep.name}: the test server sent ${[...ourMembers].join(', ')}, listed as sent only by the real server`);
    const entry = allowlist.steps.find((s) => s.step === realStep.name);
    const show = `  real: ${realStep.request} -> ${realStep.status}\n        ${stripped.body}\n  test: ${ourStep.request} -> ${ourStep.status}\n        ${ourStep.body}`;
    if (realStep.request !== ourStep.request) problems.push(`${realStep.name}: different requests\n${show}`);
    else if (entry) {
      stepsSeen.add(entry.step);
      if (realStep.status === ourStep.status && stripped.body === ourStep.body) problems.push(`${realStep.name}: allowlisted, but the servers now agree: remove the entry`);
      else if (ourStep.status !== String(entry.testServer.status) || ourStep.body !== entry.testServer.body) problems.push(`${realStep.name}: allowlisted answer changed\n${show}`);
    } else if (realStep.status !== ourStep.status || stripped.body !== ourStep.body) problems.push(`${realStep.name}: differs\n${show}`);
  });
  for (const entry of allowlist.steps) if (!stepsSeen.has(entry.step)) problems.push(`allowlisted step "${entry.step}" is not in the transcript`);
  for (const member of members) if (!membersSeen.has(member)) problems.push(`allowlisted metadata member "${member}" no longer appears in the real server's answers`);
  return problems;
}
