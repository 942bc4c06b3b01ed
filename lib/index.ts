/**
 * The public API, and nothing else: every name exported here is documented in
 * README.md and docs/ and listed in spec/package.spec.ts, which fails when an internal
 * leaks into this file or into the published declarations.
 */
export { register, getGatewayMetrics, getGatewayOtel, type GatewayOtel } from './sdk/register';
export { GatewayMetrics, createGatewayMetrics, type EndTimer } from './core/gateway-metrics';
export { gatewayViews, type GatewayViewsOptions } from './export/views';
export {
  DEFAULT_DURATION_BUCKETS,
  DEFAULT_HEALTH_CHECK_BUCKETS,
  DEFAULT_SIZE_BUCKETS,
  ConfigError,
} from './config/resolve';
export { kubectlExecNodeFor, type PodNodeMap } from './paths/exec-node';
export { type GatewayStats, type SeriesStats, type ToolStats, type LatencyQuantiles, type ClusterStats, type WorkerStats } from './export/stats';
export { MCP_DURATION_BUCKETS, DEFAULT_MAX_TOOLS, DEFAULT_MCP_REQUEST_TIMEOUT_MS } from './protocols/mcp';
export type { HealthCheckOptions } from './sdk/health';
export * as semconv from './core/semconv';
export type { Status } from './core/semconv';
export type {
  AttemptLabels,
  ClusterOptions,
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
