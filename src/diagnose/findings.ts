/**
 * What `doctor` reports: one finding per check, in plain words, with what to do about a problem.
 */
export type FindingStatus = 'ok' | 'problem' | 'note';

export interface Finding {
  status: FindingStatus;
  /** The thing checked: `CSI socket`, `permission`, `VolumeSnapshotContent snapcontent-1`. */
  subject: string;
  detail: string;
  /** For a problem: what a human can do about it. */
  fix?: string;
}

const LABEL: Record<FindingStatus, string> = { ok: 'ok', problem: 'PROBLEM', note: 'note' };

/** The report as text, one finding per line (a fix on the line below), and a closing count. */
export function formatFindings(findings: readonly Finding[]): string {
  const lines: string[] = [];
  for (const f of findings) {
    lines.push(`${LABEL[f.status].padEnd(8)} ${f.subject}: ${f.detail}`);
    if (f.fix) lines.push(`${''.padEnd(8)}   fix: ${f.fix}`);
  }
  const problems = findings.filter((f) => f.status === 'problem').length;
  lines.push(problems === 0 ? 'No problems found.' : `${problems} problem${problems === 1 ? '' : 's'} found.`);
  return lines.join('\n') + '\n';
}

/** A duration as people say it: `45s`, `12m`, `3h20m`, `2d4h`. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d${h % 24}h` : `${d}d`;
}
