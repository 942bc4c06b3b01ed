/**
 * Process metrics: `process.uptime` and the Prometheus-style
 * `process_start_time_seconds` (what every Prometheus client library exports,
 * so `time() - process_start_time_seconds` works as operators expect), plus
 * CPU time, CPU utilization and resident memory under the names, units and
 * attributes @opentelemetry/instrumentation-host-metrics gives its process
 * groups. Read here from process.cpuUsage() and process.memoryUsage.rss(), as
 * that package does: depending on it cost 2.6 MB on disk (systeminformation
 * and a second copy of @opentelemetry/instrumentation) for two Node calls.
 */
import { availableParallelism } from 'node:os';
import { ValueType, type BatchObservableResult, type MeterProvider, type ObservableResult } from '@opentelemetry/api';
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
    // What instrumentation-host-metrics' process.cpu and process.memory groups report.
    const cpuTime = meter.createObservableCounter('process.cpu.time', { description: 'Process Cpu time in seconds', unit: 's' });
    const cpuUtilization = meter.createObservableGauge('process.cpu.utilization', { description: 'Process Cpu usage time 0-1' });
    const memoryUsage = meter.createObservableGauge('process.memory.usage', { description: 'Process Memory usage in bytes' });
    const cpus = availableParallelism();
    let prev = { at: Date.now(), usage: process.cpuUsage() };
    const observeProcess = (r: BatchObservableResult) => {
      const at = Date.now();
      const usage = process.cpuUsage();
      // Utilization: the CPU time since the last collection over the time all CPUs had.
      const elapsedMicros = Math.max(1, (at - prev.at) * 1000 * cpus);
      r.observe(cpuTime, usage.user / 1e6, USER);
      r.observe(cpuTime, usage.system / 1e6, SYSTEM);
      r.observe(cpuUtilization, (usage.user - prev.usage.user) / elapsedMicros, USER);
      r.observe(cpuUtilization, (usage.system - prev.usage.system) / elapsedMicros, SYSTEM);
      r.observe(memoryUsage, process.memoryUsage.rss());
      prev = { at, usage };
    };
    const observables = [cpuTime, cpuUtilization, memoryUsage];
    meter.addBatchObservableCallback(observeProcess, observables);
    this._disable = () => {
      uptime.removeCallback(observeUptime);
      startTime.removeCallback(observeStart);
      meter.removeBatchObservableCallback(observeProcess, observables);
    };
  }

  disable(): void {
    this._disable();
  }
}

const USER = Object.freeze({ 'cpu.mode': 'user' });
const SYSTEM = Object.freeze({ 'cpu.mode': 'system' });
