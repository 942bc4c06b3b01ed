/** Capture diag output to assert warnings (real DiagAPI, our own logger sink). */
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';

export interface Captured {
  /** Only filled when captured at INFO level or below. */
  info: string[];
  warn: string[];
  error: string[];
  all(): string[];
  restore(): void;
}

export function captureDiag(level = DiagLogLevel.WARN): Captured {
  const captured = { info: [] as string[], warn: [] as string[], error: [] as string[] };
  const fmt = (args: unknown[]) => args.map(a => (a instanceof Error ? a.message : String(a))).join(' ');
  const logger: DiagLogger = {
    error: (...a) => void captured.error.push(fmt(a)),
    warn: (...a) => void captured.warn.push(fmt(a)),
    info: (...a) => void captured.info.push(fmt(a)),
    debug: () => {},
    verbose: () => {},
  };
  diag.setLogger(logger, { logLevel: level, suppressOverrideMessage: true });
  return {
    ...captured,
    all: () => [...captured.warn, ...captured.error],
    restore: () => diag.disable(),
  };
}
