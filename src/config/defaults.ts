// Constants the CLI needs without loading the configuration schema (zod costs ~0.1 s to load, and every
// worker process and `sluice --help` would pay it).
export const DEFAULT_PORT = 8787;
/** Left in the data directory by a running `sluice serve`: how the other commands find it. */
export const SERVER_FILE = 'server.json';
/** With no SLUICE_POOLS, one capacity pool: this machine's local workers. */
export const DEFAULT_POOL = 'local';
/** A job waits this long unclaimed in its pools before the next pool may take it (SLUICE_POOL_FALLBACK_SECONDS). */
export const DEFAULT_POOL_FALLBACK_SECONDS = 60;
