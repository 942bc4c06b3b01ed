/** A small client for a real Prometheus server's HTTP API (v1). */

export interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface MatrixSample {
  metric: Record<string, string>;
  values: [number, string][];
}

export interface QueryResult<T> {
  resultType: string;
  result: T;
}

export interface RuleInfo {
  name: string;
  type: 'alerting' | 'recording';
  health: string;
  lastError?: string;
  query: string;
}

export interface AlertInfo {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | 'inactive';
  value: string;
}

export interface TargetMetadata {
  target: Record<string, string>;
  metric: string;
  type: string;
  help: string;
  unit: string;
}

export class PromApiError extends Error {
  constructor(
    readonly path: string,
    readonly params: Record<string, string>,
    readonly status: number,
    readonly body: string,
  ) {
    super(`Prometheus ${path} ${JSON.stringify(params)} → HTTP ${status}: ${body.slice(0, 2000)}`);
  }
}

export class PromApi {
  constructor(readonly base: string) {}

  /** POST (form) for the query endpoints, which accept it; GET for the others, which only take GET. */
  private async call<T>(path: string, params: Record<string, string> = {}, repeated: [string, string][] = [], method: 'GET' | 'POST' = 'GET'): Promise<T> {
    const form = new URLSearchParams(params);
    for (const [k, v] of repeated) form.append(k, v);
    const res = await fetch(method === 'GET' ? `${this.base}${path}?${form}` : `${this.base}${path}`, {
      method,
      ...(method === 'POST' ? { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() } : {}),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    let body: { status?: string; data?: T; error?: string; warnings?: string[] };
    try {
      body = JSON.parse(text);
    } catch {
      throw new PromApiError(path, params, res.status, text);
    }
    if (res.status !== 200 || body.status !== 'success') throw new PromApiError(path, params, res.status, text);
    return body.data as T;
  }

  /** Instant query; `time` in seconds since the epoch (default: the server's now). */
  async query(expr: string, time?: number): Promise<VectorSample[]> {
    const data = await this.call<QueryResult<VectorSample[]>>('/api/v1/query', { query: expr, ...(time !== undefined ? { time: String(time) } : {}) }, [], 'POST');
    if (data.resultType !== 'vector') throw new Error(`${expr}: expected a vector, got ${data.resultType}`);
    return data.result;
  }

  async queryRange(expr: string, start: number, end: number, step: number): Promise<MatrixSample[]> {
    const data = await this.call<QueryResult<MatrixSample[]>>('/api/v1/query_range', { query: expr, start: String(start), end: String(end), step: String(step) }, [], 'POST');
    if (data.resultType !== 'matrix') throw new Error(`${expr}: expected a matrix, got ${data.resultType}`);
    return data.result;
  }

  series(match: string, start: number, end: number): Promise<Record<string, string>[]> {
    return this.call('/api/v1/series', { start: String(start), end: String(end) }, [['match[]', match]], 'POST');
  }

  labelValues(label: string, match: string): Promise<string[]> {
    return this.call(`/api/v1/label/${encodeURIComponent(label)}/values`, {}, [['match[]', match]]);
  }

  targetMetadata(matchTarget: string): Promise<TargetMetadata[]> {
    return this.call('/api/v1/targets/metadata', { match_target: matchTarget });
  }

  async rules(): Promise<RuleInfo[]> {
    const data = await this.call<{ groups: { rules: RuleInfo[] }[] }>('/api/v1/rules');
    return data.groups.flatMap(g => g.rules);
  }

  async alerts(): Promise<AlertInfo[]> {
    return (await this.call<{ alerts: AlertInfo[] }>('/api/v1/alerts')).alerts;
  }
}

/** The sample values of an instant vector, by one label. */
export function byLabel(samples: VectorSample[], label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    const key = s.metric[label] ?? '';
    if (key in out) throw new Error(`two samples with ${label}="${key}": ${JSON.stringify(samples.map(x => x.metric))}`);
    out[key] = Number(s.value[1]);
  }
  return out;
}
