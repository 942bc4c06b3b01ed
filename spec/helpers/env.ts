/** Run with some process.env entries set (or removed with undefined), restoring them after. */
export function setEnv(vars: Record<string, string | undefined>): () => void {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

/** Every OTEL_* / GATEWAY_METRICS_* variable of the outer environment, unset (specs start clean). */
export function cleanEnv(extra: Record<string, string | undefined> = {}): () => void {
  const vars: Record<string, string | undefined> = {};
  for (const k of Object.keys(process.env)) if (k.startsWith('OTEL_') || k.startsWith('GATEWAY_METRICS_')) vars[k] = undefined;
  return setEnv({ ...vars, ...extra });
}
