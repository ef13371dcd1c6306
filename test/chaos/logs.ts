import { STRIPPED } from '../../src/csi/sanitize.js';

/** The forms a secret value could take in a log line: as written, and as the Secret's data holds it. */
function forms(value: string): string[] {
  return [value, Buffer.from(value).toString('base64')];
}

export interface LogScan {
  lines: number;
  /** Lines where the sidecar logged a request with its secrets replaced: proof secrets passed through. */
  redacted: number;
  /** Lines that hold a secret value, with where they came from. */
  hits: string[];
}

/** Searches every line of every log for every form of every secret value. */
export function scanForSecrets(logs: Array<{ source: string; text: string }>, secretValues: string[]): LogScan {
  const needles = secretValues.flatMap(forms);
  const scan: LogScan = { lines: 0, redacted: 0, hits: [] };
  for (const { source, text } of logs) {
    for (const line of text.split('\n')) {
      scan.lines++;
      if (line.includes(STRIPPED)) scan.redacted++;
      if (needles.some((n) => line.includes(n))) scan.hits.push(`${source}: ${line.slice(0, 300)}`);
    }
  }
  return scan;
}
