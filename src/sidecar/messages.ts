/**
 * Go's %q quoting, used in the Go sidecar's error texts (and therefore in status.error and Events
 * that people search for): double quotes, backslash escapes for quotes, backslashes and
 * non-printable characters.
 */
export function goQuote(text: string): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0) as number;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code >= 0x80 && code < 0xa0) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + '"';
}

/** RFC 3339 in UTC with second precision, as Kubernetes serialises metav1.Time. */
export function kubeTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Unix nanoseconds as metav1.Time serialises them: the second they fall in (rounded down, also
 * before 1970, where dividing a negative BigInt would round towards zero instead).
 */
export function kubeTimeOfNanos(nanos: bigint): string {
  let seconds = nanos / 1_000_000_000n;
  if (nanos < 0n && seconds * 1_000_000_000n !== nanos) seconds -= 1n;
  return kubeTime(new Date(Number(seconds) * 1000));
}
