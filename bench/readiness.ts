/**
 * For each snapshot of the sample driver: how often a sidecar asked about it, and when the driver
 * first answered that it was ready, worked out from the driver's call journal and its stored
 * snapshots (tested in test/bench/). A snapshot is ready from its `readyAtMs` on; a call about it
 * answered ready when the driver built its answer at or after that moment. The journal has the
 * wall-clock start and the duration of each call, and the answer is built between the two: a call
 * that started before `readyAtMs` and ended after it is taken as answering ready at its end (the
 * earliest the sidecar could know), one that ended before as answering not ready.
 */

/** The fields of the driver's CallRecord this needs. */
export interface JournalCall {
  method: string;
  request: Record<string, unknown>;
  code?: number;
  /** ISO wall-clock time the call arrived. */
  startedAt: string;
  durationMs?: number;
}

/** The fields of the driver's SnapshotRecord this needs. */
export interface StoredSnapshot {
  id: string;
  name: string;
  sourceVolumeId: string;
  readyAtMs: number;
}

export interface Readiness {
  /** CreateSnapshot and ListSnapshots calls about it, answered OK, the first CreateSnapshot included. */
  calls: number;
  /** Of those, the ones answered before it was ready, after the first: the polls it took to find it ready. */
  pollsNotReady: number;
  /** Wall-clock ms of the first answer that said ready, if any. */
  firstReadyAnswerMs: number | undefined;
}

/** Which snapshot ids a call is about: CreateSnapshot by name and source, ListSnapshots by id (or all). */
function subjects(call: JournalCall, byName: Map<string, StoredSnapshot>, all: StoredSnapshot[]): StoredSnapshot[] {
  if (call.method === 'CreateSnapshot') {
    const s = byName.get(String(call.request.name ?? ''));
    return s && s.sourceVolumeId === call.request.source_volume_id ? [s] : [];
  }
  if (call.method === 'ListSnapshots') {
    const id = call.request.snapshot_id;
    if (id) return all.filter((s) => s.id === id);
    const source = call.request.source_volume_id;
    return source ? all.filter((s) => s.sourceVolumeId === source) : all;
  }
  return [];
}

export function readinessBySnapshot(calls: readonly JournalCall[], snapshots: readonly StoredSnapshot[]): Map<string, Readiness> {
  const all = [...snapshots];
  const byName = new Map(all.filter((s) => s.name).map((s) => [s.name, s]));
  const out = new Map<string, Readiness>(all.map((s) => [s.id, { calls: 0, pollsNotReady: 0, firstReadyAnswerMs: undefined }]));
  const ordered = [...calls].filter((c) => c.code === 0).sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
  for (const call of ordered) {
    const start = Date.parse(call.startedAt);
    const end = start + (call.durationMs ?? 0);
    for (const s of subjects(call, byName, all)) {
      const r = out.get(s.id) as Readiness;
      r.calls++;
      if (end < s.readyAtMs) {
        if (r.calls > 1) r.pollsNotReady++;
        continue;
      }
      const answeredReadyAt = start >= s.readyAtMs ? start : end;
      if (r.firstReadyAnswerMs === undefined || answeredReadyAt < r.firstReadyAnswerMs) r.firstReadyAnswerMs = answeredReadyAt;
    }
  }
  return out;
}
