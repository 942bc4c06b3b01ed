/**
 * Waits for a state that another part of the process reaches asynchronously
 * (a socket's close recorded by the HTTP path, a child's exit seen by the exec
 * path): runs `probe`, whose own assertions describe the state, until it
 * passes, pausing 5 ms between tries. A fixed sleep before the assertion would
 * be too short on a loaded machine and wasted time on an idle one. The cap only
 * turns a hang into the probe's last assertion error, before mocha's timeout.
 */
export async function eventually<T>(probe: () => Promise<T> | T, capMs = 15_000): Promise<T> {
  const deadline = Date.now() + capMs;
  for (;;) {
    try {
      return await probe();
    } catch (err) {
      if (Date.now() >= deadline) throw err;
    }
    await new Promise(r => setTimeout(r, 5));
  }
}

/**
 * Resolves after `count` fires of a new `setInterval(intervalMs)`. Timers of
 * one duration fire in the order they were set, so any interval timer of that
 * duration set before this one has fired at least `count` times by then, on a
 * loaded machine too: the way to give a timer a chance to run before
 * asserting that it did not.
 */
export function ticks(intervalMs: number, count: number): Promise<void> {
  return new Promise(resolve => {
    let n = 0;
    const t = setInterval(() => {
      if (++n < count) return;
      clearInterval(t);
      resolve();
    }, intervalMs);
  });
}
