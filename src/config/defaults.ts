// Constants the CLI needs without loading the configuration schema (zod costs ~0.1 s to load, and every
// worker process and `sluice --help` would pay it).
export const DEFAULT_PORT = 8787;
/** Left in the data directory by a running `sluice serve`: how the other commands find it. */
export const SERVER_FILE = 'server.json';
