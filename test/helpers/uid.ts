import { createHash } from 'node:crypto';

/**
 * A UID as the API server gives one (randomUUID() shape: 36 characters, dashes at 8, 13, 18 and 23),
 * fixed for a seed so a failing test names the same object on every run. The CreateSnapshot and
 * CreateVolumeGroupSnapshot names are built from these UIDs, dashes and all; short made-up UIDs
 * without dashes would hide a name built from the wrong characters.
 */
export function uidFor(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
