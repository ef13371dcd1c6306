import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Runs the upstream kubectl against a kubeconfig and returns its stdout; failures carry stderr. */
export async function kubectl(kubectlPath: string, kubeconfig: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(kubectlPath, ['--kubeconfig', kubeconfig, ...args], { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const detail = error as { stderr?: string; message: string };
    throw new Error(`kubectl ${args.join(' ')} failed: ${detail.stderr || detail.message}`);
  }
}
