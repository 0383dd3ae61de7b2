import { writeSync } from 'node:fs';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Standard error, written synchronously (as Node does for files and pipes), where a failed
 * write loses the line instead of raising an 'error' event: a full disk under the daemon's log
 * must not end the daemon. Logging resumes once there is space again.
 */
export const stderrDestination: DestinationStream = {
  write(line: string) {
    for (let tries = 0; tries < 3; tries++) {
      try {
        writeSync(2, line);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      }
    }
  },
};

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino({ level, base: { pid: process.pid } }, destination ?? stderrDestination);
}
