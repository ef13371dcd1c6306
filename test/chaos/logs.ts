/** The forms a secret value could take in a log line: as written, and as the Secret's data holds it. */
function forms(value: string): string[] {
  return [value, Buffer.from(value).toString('base64')];
}

export interface LogScan {
  lines: number;
  /** Lines that hold a secret value, with where they came from. */
  hits: string[];
}

/** Searches every line of every log for every form of every secret value. */
export function scanForSecrets(logs: Array<{ source: string; text: string }>, secretValues: string[]): LogScan {
  const needles = secretValues.flatMap(forms);
  const scan: LogScan = { lines: 0, hits: [] };
  for (const { source, text } of logs) {
    for (const line of text.split('\n')) {
      scan.lines++;
      if (needles.some((n) => line.includes(n))) scan.hits.push(`${source}: ${line.slice(0, 300)}`);
    }
  }
  return scan;
}
