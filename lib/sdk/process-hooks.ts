/**
 * The process events register() listens to: one last export before a
 * short-lived script exits, and a bounded flush on SIGTERM/SIGINT that leaves
 * the exit to the app when it handles the signal itself. Each returns the
 * function that removes its listeners (run at shutdown).
 */

/**
 * A short-lived script's last export: the reader's interval is unref'd, so
 * without this the process ends before anything recorded since the last
 * interval is sent. The async shutdown keeps the loop alive; the exit code is
 * untouched.
 */
export function flushBeforeExit(shutdown: () => Promise<void>): () => void {
  let flushed = false;
  const onBeforeExit = () => {
    if (flushed) return;
    flushed = true;
    void shutdown();
  };
  process.on('beforeExit', onBeforeExit);
  return () => process.removeListener('beforeExit', onBeforeExit);
}

export function flushOnSignals(forceFlush: () => Promise<void>, shutdown: () => Promise<void>): () => void {
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];
  const handlers = new Map<NodeJS.Signals, () => void>();
  const remove = () => {
    for (const [sig, h] of handlers) process.removeListener(sig, h);
  };
  for (const sig of signals) {
    const onSignal = () => {
      remove();
      // Ours runs first (prepended), so an app handler added with once()
      // before register() still counts here.
      if (process.listenerCount(sig) > 0) {
        // The app handles the signal and decides when to exit; it may still
        // be draining requests, so keep recording and serving, and flush now.
        void forceFlush();
        return;
      }
      // Nobody else handles it: shut down (bounded by the export timeout),
      // then end the process the way the default action would have, by the
      // same signal.
      void shutdown().then(() => process.kill(process.pid, sig));
    };
    handlers.set(sig, onSignal);
    process.prependListener(sig, onSignal);
  }
  return remove;
}
