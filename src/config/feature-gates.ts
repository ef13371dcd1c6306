import { parseGoBool } from './go-values.js';

/** Feature gates the sidecar knows, with their defaults. */
export const FEATURE_GATES = {
  /** Serve VolumeGroupSnapshotContents (GA; can still be switched off). */
  CSIVolumeGroupSnapshot: { default: true, stage: 'GA' },
  /**
   * On SIGTERM, hand the leader lease back once in-flight work is done, so another replica takes
   * over at once; off, the lease is left to expire. (In-flight work is finished either way.)
   */
  ReleaseLeaderElectionOnExit: { default: false, stage: 'Alpha' },
  /** Umbrella gates every Kubernetes component accepts; they switch no sidecar behaviour. */
  AllAlpha: { default: false, stage: 'Alpha' },
  AllBeta: { default: false, stage: 'Beta' },
} as const;

export type FeatureGateName = keyof typeof FEATURE_GATES;
export type FeatureGates = Record<FeatureGateName, boolean>;

export class FeatureGateError extends Error {}

export function defaultFeatureGates(): FeatureGates {
  return Object.fromEntries(Object.entries(FEATURE_GATES).map(([k, v]) => [k, v.default])) as FeatureGates;
}

/**
 * Parses `A=true,B=false` pairs (as repeated `--feature-gates` values, in order) into the gate set.
 * Unknown names and non-boolean values are errors; empty items and blanks around names are ignored.
 */
export function parseFeatureGates(values: readonly string[]): { gates: FeatureGates; explicit: Set<FeatureGateName> } {
  const gates = defaultFeatureGates();
  const explicit = new Set<FeatureGateName>();
  for (const value of values) {
    for (const item of value.split(',')) {
      if (item.trim() === '') continue;
      const eq = item.indexOf('=');
      if (eq < 0) throw new FeatureGateError(`missing bool value for ${item.trim()}`);
      const name = item.slice(0, eq).trim();
      const raw = item.slice(eq + 1).trim();
      if (!(name in FEATURE_GATES)) throw new FeatureGateError(`unrecognized feature gate: ${name}`);
      let enabled: boolean;
      try {
        enabled = parseGoBool(raw);
      } catch {
        throw new FeatureGateError(`invalid value of ${name}=${raw}, err: strconv.ParseBool: parsing ${JSON.stringify(raw)}: invalid syntax`);
      }
      gates[name as FeatureGateName] = enabled;
      explicit.add(name as FeatureGateName);
    }
  }
  return { gates, explicit };
}
