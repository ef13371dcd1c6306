import type { VolumeSnapshotClass, VolumeSnapshotContent } from '../types.js';

/**
 * The VolumeSnapshotContents this sidecar acts on: a source is set, spec.driver is this driver, and a class
 * it names (when that class is known) is for this driver too.
 */
export function isForDriver(
  content: VolumeSnapshotContent,
  driverName: string,
  classes: (name: string) => VolumeSnapshotClass | undefined,
): boolean {
  if (!content.spec?.source?.volumeHandle && !content.spec?.source?.snapshotHandle) return false;
  if (content.spec.driver !== driverName) return false;
  const className = content.spec.volumeSnapshotClassName;
  const klass = className ? classes(className) : undefined;
  return !klass || klass.driver === driverName;
}
