export { register, getGatewayMetrics, getGatewayOtel, type GatewayOtel } from './register';
export { registerFromEnv, loadConfigModule } from './entry';
export { GatewayMetrics, createGatewayMetrics, type EndTimer } from './metrics';
export { gatewayViews, type GatewayViewsOptions } from './views';
export {
  DEFAULT_DURATION_BUCKETS,
  DEFAULT_HEALTH_CHECK_BUCKETS,
  DEFAULT_SIZE_BUCKETS,
  ConfigError,
  resolveConfig,
  type ResolvedConfig,
} from './config';
export { kubectlExecNodeFor, parseKubectlExec, type PodNodeMap } from './exec-path';
export { errorTypeOf } from './errors';
export { bucketQuantile, type GatewayStats, type SeriesStats, type ToolStats, type LatencyQuantiles } from './stats';
export { MCP_DURATION_BUCKETS, DEFAULT_MAX_TOOLS, DEFAULT_MCP_REQUEST_TIMEOUT_MS } from './mcp';
export type { HealthCheckOptions } from './health';
export * as semconv from './semconv';
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
  McpOptions,
  MeasureOptions,
  OtlpOptions,
  OtlpProtocol,
  PrometheusAuth,
  PrometheusOptions,
  RecordOptions,
  StatusPageOptions,
  TemporalityPreference,
  WrapOptions,
} from './types';
