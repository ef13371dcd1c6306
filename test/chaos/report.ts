import { driverFaultSeed } from './random.js';
import type { RunResult } from './run.js';

const pct = (n: number) => `${n >= 0 ? '+' : ''}${Math.round(n * 100)} %`;

function exitReasons(run: RunResult): string {
  const counts = new Map<string, number>();
  for (const e of run.unplannedExits) counts.set(e.reason ?? 'UNEXPLAINED', (counts.get(e.reason ?? 'UNEXPLAINED') ?? 0) + 1);
  return [...counts].map(([why, n]) => `${n} x ${why}`).join(', ');
}

/** The figures of a chaos run beside its fault-free baseline, one per line, as printed at the end. */
export function figures(seed: number, chaos: RunResult, baseline: RunResult): string[] {
  const o = chaos.outcome;
  const s = chaos.storm;
  return [
    `seed ${seed} (CHAOS_SEED=${seed} replays the plan, the API faults and the driver's, drawn from seed ${driverFaultSeed(seed)} +1 per driver restart)`,
    `duration: ${(chaos.durationMs / 1000).toFixed(1)} s under chaos, ${(baseline.durationMs / 1000).toFixed(1)} s fault-free`,
    `dynamic contents readyToUse with a handle: ${o.contentsReady}/${o.contentsExpected}`,
    `group contents ready with all members: ${o.groupsComplete}/${o.groupsExpected}; deleted ones gone from the API: ${o.deletedGroupsGone}/${o.deletedGroupsExpected}, from storage with their members: ${o.deletedGroupsStorageGone}/${o.deletedGroupsExpected}`,
    `deleted contents gone from the API: ${o.deletedGone}/${o.deletedExpected} (${chaos.deletedBeforeReady} deleted before they were ready); their storage snapshots gone: ${o.deletedStorageGone}/${o.deletedExpected}`,
    `leaked storage snapshots: ${o.leakedSnapshots.length}, leaked storage groups: ${o.leakedGroups.length}, duplicates: ${o.duplicates.length}`,
    `finalizer gone while storage existed: ${chaos.finalizerViolations.length} (${chaos.audit.events} watch events, ${chaos.audit.checked} unprotected moments held against ${chaos.audit.storageReads} storage reads, ${chaos.audit.relists} gaps)`,
    `secret values in logs: ${chaos.logs.hits.length} in ${chaos.logs.lines} lines (sidecar verbosities ${chaos.logs.verbosities.join(', ')}, and the driver's; ${chaos.logs.redacted} lines show a request whose secrets were stripped)`,
    `API requests per snapshot (content or group): ${chaos.requests.perSnapshot.toFixed(2)} under chaos, ${baseline.requests.perSnapshot.toFixed(2)} fault-free (${pct(chaos.requests.perSnapshot / baseline.requests.perSnapshot - 1)}); ${chaos.requests.total} and ${baseline.requests.total} in all`,
    `  without leader election: ${chaos.requests.perSnapshotWithoutLeases.toFixed(2)} under chaos, ${baseline.requests.perSnapshotWithoutLeases.toFixed(2)} fault-free (${pct(chaos.requests.perSnapshotWithoutLeases / baseline.requests.perSnapshotWithoutLeases - 1)})`,
    `API faults answered to the sidecar: ${Object.entries(chaos.requests.injected).map(([code, n]) => `${n} x ${code}`).join(', ') || 'none'}`,
    `driver errors injected: ${chaos.driverErrors.injected} (${chaos.driverErrors.afterWork} after doing the work)`,
    s
      ? `crashes: driver ${s.driverKills} x, sidecar leader ${s.sidecarKills} x (takeovers after ${s.takeoverMs.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')}); watches closed ${s.watchesClosed} times in ${s.watchClosings} sweeps; forced 410: ${s.forced410}`
      : 'crashes: none',
    `sidecar exits on its own: ${chaos.unplannedExits.length}${chaos.unplannedExits.length ? ` (${exitReasons(chaos)})` : ''}`,
  ];
}

/** What is wrong with a chaos run, one line each; empty when it passed. */
export function failures(chaos: RunResult, baseline: RunResult): string[] {
  const out: string[] = [];
  const o = chaos.outcome;
  if (!baseline.settled) out.push(`the fault-free baseline did not settle: ${JSON.stringify(baseline.outcome)}`);
  if (o.contentsReady !== o.contentsExpected) out.push(`${o.contentsExpected - o.contentsReady} dynamic contents not ready with a handle`);
  if (o.groupsComplete !== o.groupsExpected) out.push(`${o.groupsExpected - o.groupsComplete} group contents not ready with all members`);
  if (o.deletedGone !== o.deletedExpected) out.push(`${o.deletedExpected - o.deletedGone} deleted contents still in the API`);
  if (o.deletedStorageGone !== o.deletedExpected) out.push(`${o.deletedExpected - o.deletedStorageGone} deleted contents still hold storage`);
  if (o.deletedGroupsGone !== o.deletedGroupsExpected) out.push(`${o.deletedGroupsExpected - o.deletedGroupsGone} deleted group contents still in the API`);
  if (o.deletedGroupsStorageGone !== o.deletedGroupsExpected) out.push(`${o.deletedGroupsExpected - o.deletedGroupsStorageGone} deleted group contents still hold storage`);
  out.push(...o.lingering.map((l) => `still in the API after its deletion: ${l}`));
  out.push(...o.leakedSnapshots.map((l) => `leaked snapshot ${l}`), ...o.leakedGroups.map((l) => `leaked group ${l}`), ...o.duplicates.map((d) => `duplicate: ${d}`));
  out.push(...chaos.finalizerViolations);
  if (chaos.audit.relists > 0) out.push(`the run's own watch missed events ${chaos.audit.relists} times: the finalizer check has gaps`);
  out.push(...chaos.logs.hits.map((h) => `secret in a log line: ${h}`));
  const s = chaos.storm;
  if (!s || s.driverKills !== 2 || s.sidecarKills !== 3 || s.takeoverMs.length !== 3 || s.forced410 !== 1) out.push(`the storm did not strike as planned: ${JSON.stringify(s)}`);
  for (const run of [baseline, chaos]) {
    out.push(...run.unplannedExits.filter((e) => !e.reason).map((e) => `${e.replica} exited unexpectedly (code ${e.code}, signal ${e.signal}):\n${e.tail}`));
  }
  if (baseline.unplannedExits.length > 0) out.push(`the fault-free baseline had ${baseline.unplannedExits.length} sidecar exits`);
  if (!chaos.requests.injected['410']) out.push('no watch of the sidecar was answered 410');
  return out;
}
