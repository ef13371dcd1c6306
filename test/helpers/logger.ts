import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/observe/logger.js';

/** A JSON logger at `verbosity` writing into an array, to assert what was logged and at which level. */
export function capturingLogger(verbosity = 0): { lines: string[]; log: Logger; records: () => Promise<Array<Record<string, unknown>>> } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0));
      callback();
    },
  });
  const log = createLogger({ verbosity, format: 'json', name: 'test', stream });
  return {
    lines,
    log,
    /** Every line written so far, parsed (waits for the logger to flush first). */
    records: async () => {
      await log.flush();
      return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    },
  };
}
