/**
 * The `--name=value` arguments of a benchmark program: anything else, or a name not in `known`, is
 * an error that lists the known names.
 */
export function flagValues(argv: readonly string[], known: readonly string[]): Map<string, string> {
  const values = new Map<string, string>();
  for (const arg of argv) {
    const m = /^--([a-z-]+)=(.*)$/.exec(arg);
    if (!m) throw new Error(`unexpected argument ${arg} (flags are --name=value)`);
    values.set(m[1] as string, m[2] as string);
  }
  for (const key of values.keys()) if (!known.includes(key)) throw new Error(`unknown flag --${key} (known: ${known.join(', ')})`);
  return values;
}
