/**
 * The process logger: pino, JSON lines on stderr (stdout is for summaries and `--json`).
 * Level from IMGPIPE_LOG_LEVEL or `--log-level`; @defaultValue 'warn' so a normal run prints only
 * its progress and summary.
 */
import { pino, type Logger } from 'pino';

let logger: Logger | null = null;

export function getLogger(): Logger {
  logger ??= pino({ level: process.env.IMGPIPE_LOG_LEVEL ?? 'warn', base: { pid: process.pid } }, pino.destination(2));
  return logger;
}

export function setLogLevel(level: string): void {
  getLogger().level = level;
}
