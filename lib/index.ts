/**
 * The public API, and nothing else: every name exported here is documented in
 * the README and listed in spec/package.spec.ts, which fails when an internal
 * leaks into this file or into the published declarations.
 */
export { register, getGatewayMetrics, getGatewayOtel, type GatewayOtel } from './register';
export { GatewayMetrics, createGatewayMetrics, type EndTimer } from './metrics';
export { gatewayViews, type GatewayViewsOptions } from './views';
export {
  DEFAULT_DURATION_BUCKETS,
  DEFAULT_HEALTH_CHECK_BUCKETS,
  DEFAULT_SIZE_BUCKETS,
  ConfigError,
} from './config';
export { kubectlExecNodeFor, type PodNodeMap } from './exec-path';
export { type GatewayStats, type SeriesStats, type ToolStats, type LatencyQuantiles } from './stats';
export { MCP_DURATION_BUCKETS, DEFAULT_MAX_TOOLS, DEFAULT_MCP_REQUEST_TIMEOUT_MS } from './mcp';
export type { HealthCheckOptions } from './health';
export * as semconv from './semconv';
export type { Status } from './semconv';
export type {
  AttemptLabels,
  CreateGatewayMetricsOptions,
  EndOptions,
  ExecPathOptions,
  ExporterName,
  FallbackLabels,
  GatewayMetricsOptions,
  HistogramMode,
  HostPortMap,
  HttpPathOptions,
  InstrumentOptions,
  McpOptions,
  MeasureOptions,
  NodeTrackingOptions,
  OtlpOptions,
  OtlpProtocol,
  PrometheusAuth,
  PrometheusOptions,
  RecordOptions,
  StatusPageOptions,
  TemporalityPreference,
  WrapOptions,
} from './types';
