export { writeMetrics } from "./textfile.js";
export type { MetricsRun } from "./samples.js";
export { metricsSchema, type MetricsConfig } from "../config/metrics.js";
export { FAMILIES } from "./families.js";
