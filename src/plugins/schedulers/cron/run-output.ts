import { cutLine } from '../../../reconcile/output-sink.js';

/** Lines of a run's output kept in its event: the last ones, as the end of a job says how it went. */
export const RUN_OUTPUT_LINES = 100;
/** Characters kept in all, whatever the lines. */
export const RUN_OUTPUT_CHARS = 16_384;

/**
 * C0 controls but tab, DEL and C1 controls: an app's output must not move a terminal's cursor,
 * retitle its window or hide text when `hop3 events` prints it.
 */
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;

export const printable = (line: string): string => line.replace(CONTROL, '\uFFFD');

/** The tail of a run's output, bounded in lines and characters; what is dropped is counted. */
export class RunOutput {
  private readonly kept: string[] = [];
  private chars = 0;
  dropped = 0;

  readonly line = (text: string): void => {
    const line = cutLine(printable(text.replace(/\r$/, '')));
    this.kept.push(line);
    this.chars += line.length;
    while (this.kept.length > RUN_OUTPUT_LINES || this.chars > RUN_OUTPUT_CHARS) {
      this.chars -= this.kept.shift()!.length;
      this.dropped++;
    }
  };

  /** Each line is already cut to MAX_LINE_CHARS, far below the budget: one always fits. */
  lines(): string[] {
    return [...this.kept];
  }
}
