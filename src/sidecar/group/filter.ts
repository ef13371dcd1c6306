import type { VolumeGroupSnapshotClass, VolumeGroupSnapshotContent } from './types.js';

/**
 * The group contents this sidecar acts on: a source is set, spec.driver is this driver, and a
 * group class it names (when that class is known) is for this driver too.
 */
export function isGroupForDriver(
  content: VolumeGroupSnapshotContent,
  driverName: string,
  classes: (name: string) => VolumeGroupSnapshotClass | undefined,
): boolean {
  const source = content.spec?.source;
  if (!source?.groupSnapshotHandles && !(source?.volumeHandles?.length)) return false;
  if (content.spec.driver !== driverName) return false;
  const className = content.spec.volumeGroupSnapshotClassName;
  const klass = className ? classes(className) : undefined;
  return !klass || klass.driver === driverName;
}
