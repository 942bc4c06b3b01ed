/**
 * Process metrics: `process.uptime` and the Prometheus-style
 * `process_start_time_seconds` (what every Prometheus client library exports,
 * so `time() - process_start_time_seconds` works as operators expect), plus
 * resident memory and CPU time from @opentelemetry/instrumentation-host-metrics
 * (the maintained successor of @opentelemetry/host-metrics, which now warns
 * that it is deprecated), process groups only: no host-wide data.
 */
import { ValueType, type MeterProvider, type ObservableResult } from '@opentelemetry/api';
import { logger, describe } from '../core/diag';
import { METRIC_PROCESS_START_TIME, METRIC_PROCESS_UPTIME, SCOPE_NAME } from '../core/semconv';
import { VERSION } from '../core/version';

export class ProcessMetrics {
  private readonly _disable: () => void;

  constructor(meterProvider: MeterProvider) {
    const meter = meterProvider.getMeter(`${SCOPE_NAME}/process`, VERSION);
    const uptime = meter.createObservableGauge(METRIC_PROCESS_UPTIME, {
      description: 'The time the process has been running.',
      unit: 's',
      valueType: ValueType.DOUBLE,
    });
    const startTime = meter.createObservableGauge(METRIC_PROCESS_START_TIME, {
      description: 'Start time of the process since unix epoch in seconds.',
      unit: 's',
      valueType: ValueType.DOUBLE,
    });
    const started = (Date.now() - process.uptime() * 1000) / 1000;
    const observeUptime = (r: ObservableResult) => r.observe(process.uptime());
    const observeStart = (r: ObservableResult) => r.observe(started);
    uptime.addCallback(observeUptime);
    startTime.addCallback(observeStart);
    this._disable = () => {
      uptime.removeCallback(observeUptime);
      startTime.removeCallback(observeStart);
    };
    try {
      const { HostMetricsInstrumentation } = require('@opentelemetry/instrumentation-host-metrics') as typeof import('@opentelemetry/instrumentation-host-metrics');
      const host = new HostMetricsInstrumentation({ enabled: false, metricGroups: ['process.cpu', 'process.memory'] });
      host.setMeterProvider(meterProvider);
      host.enable();
      this._host = host;
    } catch (err) {
      logger.warn(`process memory/CPU metrics unavailable: ${describe(err)}`);
    }
  }

  private readonly _host: { disable(): void } | undefined;

  disable(): void {
    this._disable();
    this._host?.disable();
  }
}
