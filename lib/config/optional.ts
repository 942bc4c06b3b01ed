/**
 * Optional packages: parts that only some options use, declared as optional
 * peer dependencies so that the default install stays small (the gRPC exporter
 * brings @grpc/grpc-js and protobufjs, about 12 MB on disk; instrumentation-http
 * serves only `inboundHttp`, off by default).
 *
 * An option given in code that needs a package that is not installed fails
 * fast at register() with a ConfigError naming the option, the package and the
 * install command; the same choice from an environment variable warns and falls
 * back, like every bad env value (resolve.ts).
 */

export interface OptionalPackage {
  /** The npm package name, as `require()` and `npm install` take it. */
  readonly name: string;
  /** What it serves, for the message. */
  readonly serves: string;
}

export const GRPC_EXPORTER: OptionalPackage = Object.freeze({
  name: '@opentelemetry/exporter-metrics-otlp-grpc',
  serves: 'OTLP over gRPC',
});

export const INBOUND_HTTP: OptionalPackage = Object.freeze({
  name: '@opentelemetry/instrumentation-http',
  serves: 'inbound HTTP server metrics',
});

/** Whether `require(name)` would find the package from this module, without loading it. */
export function isInstalled(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}

/** The reason shown when a package is missing: which package, and how to add it. */
export function missingReason(pkg: OptionalPackage): string {
  return `${pkg.serves} needs the optional package ${pkg.name}, which is not installed; add it with: npm install ${pkg.name}`;
}
