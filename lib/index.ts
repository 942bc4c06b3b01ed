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
export { bucketQuantile, type GatewayStats, type SeriesStats, type LatencyQuantiles } from './stats';
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
