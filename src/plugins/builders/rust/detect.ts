import type { Detection } from '../detection-types.js';

/** The name the rust builder gives the app's binary in the release's bin/ (on the processes' PATH). */
export const RUST_BINARY = 'app';
export const RUST_DETECTION: Detection = { builder: 'rust', marker: 'Cargo.toml', matches: (_s, f) => f('Cargo.toml') };
/** The web process of a Rust app without one: the built binary. */
export const RUST_DEFAULT_WEB = `exec ${RUST_BINARY}`;
