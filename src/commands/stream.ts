/**
 * A command whose answer comes in pieces while it runs (log lines, a command's output): each
 * piece goes to `emit`, which returns a promise when the reader is slow, so the command waits
 * instead of holding what it produces; `signal` ends the command when the reader goes away or
 * the daemon stops.
 */
export type Emit = (piece: object) => void | Promise<void>;
