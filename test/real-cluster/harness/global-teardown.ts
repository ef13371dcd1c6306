import { rmSync } from 'node:fs';
import { groupIsAlive, recordedProcesses, signalRecordedGroup } from './process-groups.js';
import { readState } from './state.js';
import { pollUntil } from './wait.js';

/**
 * jest globalTeardown of jest.real.config.js: ends every process the run recorded (the control
 * plane and anything a suite left running), then deletes the run folder. Set REAL_CLUSTER_KEEP=1
 * to keep the folder (logs, kubeconfigs) for a look after the run.
 */
export default async function globalTeardown(): Promise<void> {
  const { runDir } = readState();
  for (const record of recordedProcesses(runDir)) signalRecordedGroup(record, 'SIGTERM');
  try {
    await pollUntil(() => (!recordedProcesses(runDir).some(groupIsAlive) ? true : undefined), {
      description: 'the real-cluster processes to exit',
      timeoutMs: 10_000,
    });
  } catch {
    // Whatever ignored SIGTERM is killed below.
  }
  for (const record of recordedProcesses(runDir)) signalRecordedGroup(record, 'SIGKILL');
  if (!process.env.REAL_CLUSTER_KEEP) rmSync(runDir, { recursive: true, force: true });
}
