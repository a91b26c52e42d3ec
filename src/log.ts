import { type Logger, pino } from 'pino';

/** Structured logs (JSON lines) on stderr, so stdout stays free for command output. */
export function createLogger(level: string, name = 'sluice'): Logger {
  return pino({ name, level }, pino.destination(2));
}
