/**
 * A real OpenTelemetry tracing setup, as an app has it: NodeSDK (which
 * registers the AsyncLocalStorage context manager and a tracer provider; in
 * 0.301 only when span processors are given) with an in-memory span
 * exporter. stop() shuts it down and unregisters the globals, so later specs
 * run without a tracer (and meet no shut-down provider).
 */
import { context, logs, propagation, trace, type Tracer } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';

export interface Tracing {
  tracer: Tracer;
  exporter: InMemorySpanExporter;
  stop(): Promise<void>;
}

export function startTracing(): Tracing {
  const exporter = new InMemorySpanExporter();
  // No metric readers and no log processors: otherwise NodeSDK builds OTLP exporters from the (empty) env.
  const sdk = new NodeSDK({ spanProcessors: [new SimpleSpanProcessor({ exporter })], metricReaders: [], logRecordProcessors: [], instrumentations: [], autoDetectResources: false });
  sdk.start();
  return {
    tracer: trace.getTracer('spec'),
    exporter,
    async stop() {
      await sdk.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
      logs.disable();
    },
  };
}
