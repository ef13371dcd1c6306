/**
 * The sample CSI driver test kit: run `csi-sample-driver` as a child process (startSampleDriver),
 * or in-process (SampleDriver), and steer it with faults; read what it received from the journal.
 */
export { startSampleDriver, sampleDriverBinPath, SampleDriverProcess } from './launcher.js';
export type { SampleDriverOptions, ExitStatus } from './launcher.js';
export { SampleDriver, DEFAULT_DRIVER_NAME } from './driver.js';
export type { SampleDriverConfig } from './driver.js';
export { validateFaults, mergePatch, statusCode, FaultError } from './faults.js';
export type { Faults, ErrorFault, ReadyDelayRange, WithheldCapabilities } from './faults.js';
export { sha256Hex } from './journal.js';
export type { CallRecord } from './journal.js';
export { readInventory } from './inventory.js';
export type { Inventory } from './inventory.js';
