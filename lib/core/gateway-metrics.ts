/**
 * The gateway instruments and the request-path API (measure, record,
 * startTimer, wrap, recordFallback, setNodeUp, measureHealthCheck). Label
 * bounding and node state live in series-registry.ts; the automatic paths,
 * the stats view and register() reach them through the internal methods here
 * (hidden from the published declarations).
 *
 * Rules of this file:
 * - nothing here throws into the caller, or changes its result or error;
 * - bad input is dropped with one rate-limited diag.warn;
 * - every record goes to a cell (core/recorder.ts) the series made once with
 *   its frozen attributes: our store under register(), an SDK instrument on a
 *   provider the user owns;
 * - in-flight counts, node up and body bytes are plain numbers read when a
 *   reader collects, so measure() records one cell on success (two on error);
 * - where the cells keep exemplars (our store, when the Prometheus endpoint
 *   serves them), the sampled span active at the START of a call goes with
 *   its duration (core/trace.ts); nothing is read otherwise.
 */
import { metrics as otelMetrics, ValueType, type MeterProvider } from '@opentelemetry/api';
import { checkOption } from '../config/resolve';
import { O, type OptionRow } from '../config/options';
import { RateLimitedWarner, describe } from './diag';
import { errorTypeOf } from './error-type';
import { closeMark, enterMark, inMeasuredScope, openMark, runInMark } from './scope';
import {
  ATTR_ERROR_TYPE,
  ATTR_FROM_TRANSPORT,
  ATTR_STATUS,
  ATTR_NODE,
  ATTR_TO_TRANSPORT,
  INSTRUMENTS,
  METRIC_FALLBACKS,
  METRIC_HEALTH_CHECK_DURATION,
  METRIC_HEALTH_CHECK_FAILURES,
  METRIC_NETWORK_IO,
  METRIC_NODE_UP,
  METRIC_REQUEST_DURATION,
  METRIC_REQUEST_ERRORS,
  METRIC_REQUEST_SIZE,
  METRIC_REQUESTS_ACTIVE,
  METRIC_RESPONSE_SIZE,
  METRIC_STREAM_OPEN_DURATION,
  METRIC_STREAMS_OPENED,
  SCOPE_NAME,
  STATUS_ERROR,
  STATUS_SUCCESS,
  type Status,
} from './semconv';
import type {
  AttemptLabels,
  CreateGatewayMetricsOptions,
  EndOptions,
  FallbackLabels,
  MeasureOptions,
  RecordOptions,
  WrapOptions,
} from '../types';
import { withPrefix } from './semconv';
import { DERIVED_ERROR_TYPES, ioAttrsOf, NodeEntry, Series, SeriesRegistry } from './series-registry';
import { SdkRecorders, type Disposable, type HistogramCell, type HistogramRecorder, type Recorders, type SumCell, type SumRecorder } from './recorder';
import { activeTrace, type TraceRef } from './trace';
import { VERSION } from './version';

export type EndTimer = (options?: EndOptions) => number;



function isThenable(value: unknown): boolean {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  try {
    return typeof (value as { then?: unknown }).then === 'function';
  } catch {
    return false;
  }
}



function validBytes(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

export class GatewayMetrics {
  /** The prefix in force (`''` for none). */
  readonly prefix: string;
  readonly maxNodes: number;
  readonly nodeIdleTtl: number;
  readonly downAfterErrors: number;
  /** @internal Tool and prompt names per node and transport before `_other` (the MCP reader's bound). */
  readonly maxTools: number;
  /** @internal Model names per node and transport before `_OTHER` (the LLM reader's bound). */
  readonly maxModels: number;
  /** @internal Where every cell is made: the store under register(), SDK instruments otherwise. */
  readonly recorders: Recorders;

  private readonly _duration: HistogramRecorder;
  private readonly _errors: SumRecorder;
  private readonly _fallbacks: SumRecorder;
  private readonly _healthDuration: HistogramRecorder;
  private readonly _healthFailures: SumRecorder;
  private readonly _requestSize: HistogramRecorder;
  private readonly _responseSize: HistogramRecorder;
  private readonly _streamsOpened: SumRecorder;
  private readonly _streamOpenDuration: HistogramRecorder;
  private readonly _sizeHistograms: boolean;
  /** The recorders keep exemplars: read the active span at the start of each call. */
  private readonly _traces: boolean;
  private readonly _observed: Disposable[];
  /** Instruments of the protocol readers, made once per instance (shared()). */
  private readonly _shared = new Map<string, unknown>();

  private readonly _warn = new RateLimitedWarner();
  private readonly _registry: SeriesRegistry;
  private _disposed = false;
  /** Set on an instance handed out before register(): it records into the registration's. */
  private _forward: GatewayMetrics | undefined = undefined;

  constructor(recorders: Recorders, options: CreateGatewayMetricsOptions = {}) {
    // The checks and limits of register()'s option table, so both entries hold an option to the same rules.
    this.prefix = checkOption(O.prefix, options.prefix);
    const buckets = (row: OptionRow<readonly number[]>, v: readonly number[] | undefined) => [...checkOption(row, v)];
    this.maxNodes = checkOption(O.maxNodes, options.maxNodes);
    this.nodeIdleTtl = checkOption(O.nodeIdleTtl, options.nodeIdleTtl);
    this.downAfterErrors = checkOption(O.downAfterErrors, options.downAfterErrors);
    this.maxTools = checkOption(O.maxTools, options.maxTools);
    this.maxModels = checkOption(O.maxModels, options.maxModels);
    this.recorders = recorders;
    this._traces = recorders.exemplars === true;
    this._registry = new SeriesRegistry(this.maxNodes, this.nodeIdleTtl, this._warn);

    const name = (n: keyof typeof INSTRUMENTS) => withPrefix(this.prefix, n);
    const info = (n: keyof typeof INSTRUMENTS, valueType: ValueType) => ({ description: INSTRUMENTS[n].description, unit: INSTRUMENTS[n].unit, valueType });
    const histogram = (n: keyof typeof INSTRUMENTS, valueType: ValueType, boundaries: readonly number[]) =>
      recorders.histogram(name(n), { ...info(n, valueType), boundaries });
    const durationBuckets = buckets(O.buckets, options.buckets);
    const sizeBuckets = buckets(O.sizeBuckets, options.sizeBuckets);

    this._duration = histogram(METRIC_REQUEST_DURATION, ValueType.DOUBLE, durationBuckets);
    this._errors = recorders.counter(name(METRIC_REQUEST_ERRORS), info(METRIC_REQUEST_ERRORS, ValueType.INT));
    this._fallbacks = recorders.counter(name(METRIC_FALLBACKS), info(METRIC_FALLBACKS, ValueType.INT));
    this._healthDuration = histogram(METRIC_HEALTH_CHECK_DURATION, ValueType.DOUBLE, buckets(O.healthCheckBuckets, options.healthCheckBuckets));
    this._healthFailures = recorders.counter(name(METRIC_HEALTH_CHECK_FAILURES), info(METRIC_HEALTH_CHECK_FAILURES, ValueType.INT));
    this._requestSize = histogram(METRIC_REQUEST_SIZE, ValueType.INT, sizeBuckets);
    this._responseSize = histogram(METRIC_RESPONSE_SIZE, ValueType.INT, sizeBuckets);
    this._streamsOpened = recorders.counter(name(METRIC_STREAMS_OPENED), info(METRIC_STREAMS_OPENED, ValueType.INT));
    this._streamOpenDuration = histogram(METRIC_STREAM_OPEN_DURATION, ValueType.DOUBLE, durationBuckets);
    this._sizeHistograms = options.sizeHistograms === true;
    this._observed = [
      recorders.observed(name(METRIC_NETWORK_IO), info(METRIC_NETWORK_IO, ValueType.INT), 'counter', emit => {
        for (const entry of this._registry.allEntries()) {
          for (const series of entry.transports) {
            const attrs = ioAttrsOf(series);
            if (attrs === undefined) continue;
            emit(attrs[0], series.txBytes, entry.startMs);
            emit(attrs[1], series.rxBytes, entry.startMs);
          }
        }
      }),
      recorders.observed(name(METRIC_REQUESTS_ACTIVE), info(METRIC_REQUESTS_ACTIVE, ValueType.INT), 'upDownCounter', (emit, changedOnly) => {
        for (const entry of this._registry.allEntries()) {
          for (const series of entry.transports) {
            if (changedOnly && series.active === series.reported) continue;
            series.reported = series.active;
            emit(series.base, series.active, entry.startMs);
          }
        }
      }),
      recorders.observed(name(METRIC_NODE_UP), info(METRIC_NODE_UP, ValueType.INT), 'gauge', emit => {
        this.sweep();
        for (const entry of this._registry.allEntries()) {
          if (entry.up !== undefined) emit(entry.attrs, entry.up ? 1 : 0, entry.startMs);
        }
      }),
    ];
  }

  // -------------------------------------------------------------------------
  // Public API

  /**
   * Time `fn` (sync or async) as one attempt. Returns exactly what `fn`
   * returns (the same promise object for async functions) and rethrows exactly
   * what it throws.
   */
  measure<T>(labels: MeasureOptions, fn: () => T): T {
    if (this._forward !== undefined) return this._forward.measure(labels, fn);
    if (typeof fn !== 'function') {
      // Nothing to call, so nothing to time. Handing the value back keeps the
      // common slip `measure(labels, promise)` working for the caller (it
      // awaits the same promise); throwing would break the host's call.
      this._warn.warn('measure-fn', () => `measure(): fn must be a function, got ${describe(fn)}; returned as is, not recorded`);
      return fn as T;
    }
    const series = this._registry.seriesOf(labels, 'measure');
    const t0 = performance.now();
    let trace: TraceRef | undefined;
    if (series !== undefined) {
      series.active++;
      if (this._traces) trace = activeTrace();
    }
    const mark = openMark();
    let result: T;
    try {
      result = runInMark(mark, fn);
    } catch (err) {
      closeMark(mark);
      if (series !== undefined) this._end(series, t0, STATUS_ERROR, err, undefined, labels, trace);
      throw err;
    }
    // Only a native promise is observed. Calling then() on any other thenable
    // may start its work (a query builder runs on then()) or call back twice.
    if (result instanceof Promise) {
      result.then(
        () => {
          closeMark(mark);
          if (series !== undefined) this._end(series, t0, STATUS_SUCCESS, undefined, undefined, labels, trace);
        },
        (err: unknown) => {
          closeMark(mark);
          if (series !== undefined) this._end(series, t0, STATUS_ERROR, err, undefined, labels, trace);
        },
      );
      return result;
    }
    closeMark(mark);
    if (series === undefined) return result;
    if (isThenable(result)) {
      this._warn.warn('thenable', () => 'measure(): fn returned a thenable that is not a native Promise; timed until it returned (return `await thenable` from an async function to time it to the end)');
    }
    this._end(series, t0, STATUS_SUCCESS, undefined, undefined, labels, trace);
    return result;
  }

  /** Record an attempt timed elsewhere. */
  record(options: RecordOptions): void {
    if (this._forward !== undefined) return this._forward.record(options);
    try {
      if (typeof options !== 'object' || options === null) {
        this._warn.warn('record', () => `record(): expected an options object, got ${describe(options)}; dropped`);
        return;
      }
      const { status, durationSeconds } = options;
      if (status !== STATUS_SUCCESS && status !== STATUS_ERROR) {
        this._warn.warn('status', () => `record(): status must be "success" or "error", got ${describe(status)}; dropped`);
        return;
      }
      if (typeof durationSeconds !== 'number' || !Number.isFinite(durationSeconds) || durationSeconds < 0) {
        this._warn.warn('duration', () => `record(): durationSeconds must be a finite number >= 0, got ${describe(durationSeconds)}; dropped`);
        return;
      }
      const series = this._registry.seriesOf(options, 'record');
      if (series === undefined) return;
      this._observe(series, durationSeconds, status, options.error, options.errorType, options, undefined, performance.now(), this._traces ? activeTrace() : undefined);
    } catch (err) {
      this._internalError(err);
    }
  }

  /**
   * Start timing an attempt; call the returned function once it ends. It
   * returns the elapsed seconds (and records only on its first call).
   */
  startTimer(labels: AttemptLabels): EndTimer {
    if (this._forward !== undefined) return this._forward.startTimer(labels);
    const series = this._registry.seriesOf(labels, 'startTimer');
    const t0 = performance.now();
    let trace: TraceRef | undefined;
    if (series !== undefined) {
      series.active++;
      if (this._traces) trace = activeTrace();
    }
    const mark = enterMark();
    let seconds: number | undefined;
    return (options?: EndOptions) => {
      if (seconds !== undefined) return seconds;
      const now = performance.now();
      seconds = (now - t0) / 1000;
      closeMark(mark);
      try {
        if (series === undefined) return seconds;
        series.active--;
        let status: Status = STATUS_SUCCESS;
        let error: unknown;
        let errorType: string | undefined;
        let sizes: EndOptions | undefined;
        if (typeof options === 'object' && options !== null) {
          error = options.error;
          errorType = options.errorType;
          sizes = options;
          if (options.status === STATUS_ERROR || options.status === STATUS_SUCCESS) status = options.status;
          else if (error !== undefined && error !== null) status = STATUS_ERROR;
          else if (options.status !== undefined) {
            this._warn.warn('status', () => `end(): status must be "success" or "error", got ${describe(options.status)}; using "success"`);
          }
        }
        this._observe(series, seconds, status, error, errorType, sizes, undefined, now, trace);
      } catch (err) {
        this._internalError(err);
      }
      return seconds;
    };
  }

  /**
   * Wrap a router method: same `this`, arguments, result and thrown error;
   * each call is timed like `measure()`.
   */
  wrap<A extends unknown[], R>(fn: (...args: A) => R, options: WrapOptions<A>): (...args: A) => R {
    const metrics = this;
    const opts = typeof options === 'object' && options !== null ? options : ({} as WrapOptions<A>);
    const transport = opts.transport;
    const node = opts.node;
    const wrapped = function (this: unknown, ...args: A): R {
      let nodeName: unknown = node;
      if (typeof node === 'function') {
        try {
          nodeName = node(...args);
        } catch (err) {
          metrics._warn.warn('wrap-node', () => `wrap(): the node function threw ${describe(err)}; call not recorded`);
          nodeName = undefined;
        }
      }
      return metrics.measure({ node: nodeName as string, transport }, () => fn.apply(this, args));
    };
    try {
      Object.defineProperty(wrapped, 'name', { value: typeof fn === 'function' ? fn.name : 'wrapped' });
      Object.defineProperty(wrapped, 'length', { value: typeof fn === 'function' ? fn.length : 0 });
    } catch {
      // Cosmetic only.
    }
    return wrapped;
  }

  /** Count a request that fell back from one transport to another. */
  recordFallback(labels: FallbackLabels): void {
    if (this._forward !== undefined) return this._forward.recordFallback(labels);
    try {
      if (typeof labels !== 'object' || labels === null) {
        this._warn.warn('fallback', () => `recordFallback(): expected { node, from, to }, got ${describe(labels)}; dropped`);
        return;
      }
      const entry = this._registry.nodeOf(labels.node, 'recordFallback');
      const from = this._registry.transportOf(labels.from, 'recordFallback');
      const to = this._registry.transportOf(labels.to, 'recordFallback');
      if (entry === undefined || from === undefined || to === undefined) return;
      const key = `${from}\u0000${to}`;
      entry.fallbackCells ??= new Map();
      let cell = entry.fallbackCells.get(key);
      if (cell === undefined) {
        cell = this._fallbacks.cell(Object.freeze({ [ATTR_NODE]: entry.name, [ATTR_FROM_TRANSPORT]: from, [ATTR_TO_TRANSPORT]: to }), entry);
        entry.fallbackCells.set(key, cell);
      }
      cell.add(1);
    } catch (err) {
      this._internalError(err);
    }
  }

  /** Report a node up (`true`) or down (`false`) in `gateway.node.up`. */
  setNodeUp(node: string, up: boolean): void {
    if (this._forward !== undefined) return this._forward.setNodeUp(node, up);
    try {
      if (typeof up !== 'boolean') {
        this._warn.warn('up', () => `setNodeUp(): up must be a boolean, got ${describe(up)}; dropped`);
        return;
      }
      const entry = this._registry.nodeOf(node, 'setNodeUp');
      if (entry !== undefined) {
        entry.up = up;
        // A node reported down gets no traffic; the report itself keeps it live.
        entry.lastSeen = performance.now();
      }
    } catch (err) {
      this._internalError(err);
    }
  }

  /**
   * Time a health check of `node`: `gateway.health_check.duration{node,status}`,
   * `gateway.health_check.failures{node}`, and `gateway.node.up` from the outcome
   * (down only after `downAfterErrors` consecutive failures, when that is set).
   * Resolves to `true` when the check passed; never rejects.
   */
  async measureHealthCheck(node: string, check: () => unknown): Promise<boolean> {
    if (this._forward !== undefined) return this._forward.measureHealthCheck(node, check);
    const entry = this._registry.nodeOf(node, 'measureHealthCheck');
    const t0 = performance.now();
    const trace = this._traces && entry !== undefined ? activeTrace() : undefined;
    const mark = openMark();
    let passed = true;
    try {
      const result = await runInMark(mark, check);
      if (result === false) passed = false;
    } catch {
      passed = false;
    } finally {
      closeMark(mark);
    }
    if (entry === undefined) return passed;
    try {
      const seconds = (performance.now() - t0) / 1000;
      entry.lastSeen = performance.now();
      const cells = (entry.healthCells ??= [
        this._healthDuration.cell(entry.healthAttrs(true), entry),
        this._healthDuration.cell(entry.healthAttrs(false), entry),
        this._healthFailures.cell(entry.attrs, entry),
      ]);
      cells[passed ? 0 : 1].record(seconds, trace);
      if (passed) {
        entry.healthFailures = 0;
        entry.up = true;
      } else {
        cells[2].add(1);
        entry.healthFailures++;
        if (this.downAfterErrors === 0 || entry.healthFailures >= this.downAfterErrors) entry.up = false;
      }
    } catch (err) {
      this._internalError(err);
    }
    return passed;
  }

  // -------------------------------------------------------------------------
  // Used by the automatic paths and the endpoint.

  /** @internal Series for an automatic path, or undefined (bad label, already measured). */
  autoSeries(node: unknown, transport: string): Series | undefined {
    if (inMeasuredScope()) return undefined;
    return this._registry.seriesOf({ node: node as string, transport }, 'auto');
  }

  /**
   * @internal Start of an automatic attempt: counts it in flight. Called in
   * the caller's context (the request's creation, the spawn), it returns the
   * sampled span active there, for autoEnd() (undefined when exemplars are
   * not kept or no span is active).
   */
  autoStart(series: Series): TraceRef | undefined {
    series.active++;
    return this._traces ? activeTrace() : undefined;
  }

  /**
   * @internal End of an automatic attempt started with autoStart(). `now` is
   * the clock reading the caller took the duration from, if it has one
   * (performance.now() is 65–100 ns here). `trace` is what autoStart() returned.
   */
  autoEnd(
    series: Series,
    seconds: number,
    errorType: string | undefined,
    statusClass: string | undefined,
    requestBytes?: number,
    responseBytes?: number,
    now?: number,
    trace?: TraceRef,
  ): void {
    try {
      series.active--;
      const status = errorType === undefined ? STATUS_SUCCESS : STATUS_ERROR;
      this._observe(series, seconds, status, undefined, errorType, { requestBytes, responseBytes }, statusClass, now ?? performance.now(), trace);
    } catch (err) {
      this._internalError(err);
    }
  }

  /**
   * @internal
   * An automatic attempt turned out not to be a routed call (a JSON-RPC
   * notification, a stdio child that speaks JSON-RPC): it leaves in-flight
   * and records nothing.
   */
  autoDrop(series: Series): void {
    series.active--;
  }

  /** @internal An error type as a bounded label value (at most MAX_ERROR_TYPES distinct, else `_OTHER`). */
  boundedErrorType(raw: string): string {
    return DERIVED_ERROR_TYPES.has(raw) ? raw : this._registry.userErrorType(raw);
  }

  /**
   * @internal
   * An automatic attempt turned out to be a long-lived stream (SSE GET,
   * upgrade, CONNECT): it leaves in-flight, adds no duration sample and no
   * error, and counts as an opened stream with its time to response headers.
   */
  autoStream(series: Series, secondsToHeaders: number, trace?: TraceRef): void {
    try {
      series.active--;
      series.nodeEntry.lastSeen = performance.now();
      const cells = (series.streamCells ??= [this._streamsOpened.cell(series.base, series.nodeEntry), this._streamOpenDuration.cell(series.base, series.nodeEntry)]);
      cells[0].add(1);
      cells[1].record(secondsToHeaders, trace);
    } catch (err) {
      this._internalError(err);
    }
  }

  /** @internal Whether a `node` label value is live: called within `nodeIdleTtl`, or in flight. */
  isLiveNode(node: string, now = performance.now()): boolean {
    return this._registry.isLive(node, now);
  }


  /** @internal Live nodes, for the stats view. */
  nodeEntries(): IterableIterator<NodeEntry> {
    return this._registry.entries();
  }

  /** @internal */
  get otherEntry(): NodeEntry | undefined {
    return this._registry.other;
  }

  /** @internal Forget nodes idle for longer than `nodeIdleTtl` (and not in flight). */
  sweep(now = performance.now()): void {
    this._registry.sweep(now);
  }

  /**
   * @internal
   * Record into `target` from now on (or stop, with undefined). register() uses
   * it for an instance getGatewayMetrics() handed out before it ran, which
   * would otherwise record into the no-op provider for good.
   */
  forwardTo(target: GatewayMetrics | undefined): void {
    this._forward = target === this ? undefined : target;
  }

  /** Stop reporting the observed instruments (e.g. before the provider is replaced). */
  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    for (const o of this._observed) o.dispose();
  }

  /**
   * @internal
   * The instruments of a protocol reader (MCP, LLM APIs), made once per
   * instance however many readers ask: `make` runs on the first call.
   */
  shared<T>(key: string, make: (recorders: Recorders) => T): T {
    let value = this._shared.get(key) as T | undefined;
    if (value === undefined) {
      value = make(this.recorders);
      this._shared.set(key, value);
    }
    return value;
  }

  // -------------------------------------------------------------------------

  private _end(
    series: Series,
    t0: number,
    status: Status,
    error: unknown,
    errorType: string | undefined,
    sizes: MeasureOptions | undefined,
    trace: TraceRef | undefined,
  ): void {
    try {
      series.active--;
      const now = performance.now();
      this._observe(series, (now - t0) / 1000, status, error, errorType, sizes, undefined, now, trace);
    } catch (err) {
      this._internalError(err);
    }
  }

  private _observe(
    series: Series,
    seconds: number,
    status: Status,
    error: unknown,
    errorType: string | undefined,
    sizes: { requestBytes?: unknown; responseBytes?: unknown } | undefined,
    statusClass: string | undefined,
    now: number,
    trace: TraceRef | undefined,
  ): void {
    const entry = series.nodeEntry;
    entry.lastSeen = now;
    if (status === STATUS_SUCCESS) {
      (series.okCell ??= this._duration.cellWith(series.base, ATTR_STATUS, STATUS_SUCCESS, entry)).record(seconds, trace);
      if (this.downAfterErrors > 0) {
        entry.consecutiveErrors = 0;
        entry.up = true;
      }
    } else {
      (series.errCell ??= this._duration.cellWith(series.base, ATTR_STATUS, STATUS_ERROR, entry)).record(seconds, trace);
      const type = errorType !== undefined ? this._registry.userErrorType(errorType) : errorTypeOf(error);
      this._errorCell(series, type, statusClass).add(1);
      if (this.downAfterErrors > 0) {
        // Derived health: up until N consecutive errors.
        if (++entry.consecutiveErrors >= this.downAfterErrors) entry.up = false;
        else entry.up ??= true;
      }
    }
    if (sizes !== undefined) {
      // Byte totals are plain additions on the series; only the opt-in size
      // histograms cost SDK records (each record is 1.5–2.4 µs, half of it
      // attribute hashing: two of them were most of the gap to prom-client).
      const req = sizes.requestBytes;
      const res = sizes.responseBytes;
      if (req !== undefined) {
        if (validBytes(req)) {
          series.txBytes += req;
          if (this._sizeHistograms) this._sizeCells(series)[0].record(req);
        } else this._warn.warn('bytes', () => `requestBytes must be a finite number >= 0, got ${describe(req)}; dropped`);
      }
      if (res !== undefined) {
        if (validBytes(res)) {
          series.rxBytes += res;
          if (this._sizeHistograms) this._sizeCells(series)[1].record(res);
        } else this._warn.warn('bytes', () => `responseBytes must be a finite number >= 0, got ${describe(res)}; dropped`);
      }
    }
  }








  private _errorCell(series: Series, type: string, statusClass: string | undefined): SumCell {
    const key = statusClass === undefined ? type : `${type}\u0000${statusClass}`;
    if (series.errorKey === key) return series.errorCell!;
    let cell = series.errorCells?.get(key);
    if (cell !== undefined) return cell;
    cell = statusClass === undefined
      ? this._errors.cellWith(series.base, ATTR_ERROR_TYPE, type, series.nodeEntry)
      : this._errors.cell(this._registry.errorAttrs(series, type, statusClass), series.nodeEntry);
    if (series.errorKey === undefined) {
      series.errorKey = key;
      series.errorCell = cell;
    } else (series.errorCells ??= new Map()).set(key, cell);
    return cell;
  }

  private _sizeCells(series: Series): [HistogramCell, HistogramCell] {
    return (series.sizeCells ??= [this._requestSize.cell(series.base, series.nodeEntry), this._responseSize.cell(series.base, series.nodeEntry)]);
  }

  private _internalError(err: unknown): void {
    this._warn.warn('internal', () => `internal error (ignored, the call went ahead): ${describe(err)}`);
  }
}

/** Gateway metrics on a MeterProvider you already run (NodeSDK or your own). */
export function createGatewayMetrics(options: CreateGatewayMetricsOptions = {}): GatewayMetrics {
  const provider: MeterProvider = options.meterProvider ?? otelMetrics.getMeterProvider();
  return new GatewayMetrics(new SdkRecorders(provider.getMeter(SCOPE_NAME, VERSION)), options);
}
