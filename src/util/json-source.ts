/**
 * Node 24's additions to JSON that keep numbers exact, typed here because TypeScript's ES2023 lib
 * predates them: a reviver's third argument holds the source text of each primitive, and
 * JSON.rawJSON gives JSON.stringify text to write verbatim (the only way to write a number that a
 * double cannot hold).
 */

export interface SourceContext {
  /** The primitive's text in the document; absent for objects and arrays. */
  source?: string;
}

export type SourceReviver = (key: string, value: unknown, context?: SourceContext) => unknown;

export const parseWithSource = JSON.parse as (text: string, reviver: SourceReviver) => unknown;

const native = JSON as unknown as { rawJSON?: (text: string) => unknown };
if (typeof native.rawJSON !== 'function') throw new Error(`JSON.rawJSON is missing: this program needs Node.js 24 or newer, not ${process.version}`);

/** A value JSON.stringify writes as `text` itself (a JSON number, here). */
export const rawJson: (text: string) => unknown = native.rawJSON.bind(JSON);
