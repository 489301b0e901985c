/**
 * The OpenTelemetry packages a lab may import (the trace-propagation lab uses the API and the
 * SDK as a developer would), each bundled into one ESM file of its own with every other
 * `@opentelemetry/*` package left external: the SDK must use the one `@opentelemetry/api` of the
 * graph (the API keeps a global registry of the tracer provider and propagator, and a second copy
 * would be a second registry), and core's context keys must be the same objects in the SDK and in
 * lab code. sdk-trace-base 2.x is a shim over sdk-trace, and both reach resources and
 * semantic-conventions, so those are installed too.
 */
export const OTEL_PACKAGES = ["api", "core", "resources", "semantic-conventions", "sdk-trace", "sdk-trace-base"] as const;
