/**
 * The one timeout helper, after sdk-metrics' `callWithTimeout` (not exported by
 * the SDK): the promise's outcome, or a TimeoutError after `ms`. The operation
 * itself goes on; only the wait is bounded. The timer is unref'd, so a pending
 * bound never keeps the process alive.
 */
export class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} took longer than ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

export function callWithTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
