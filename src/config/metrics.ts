import { isAbsolute } from "node:path";
import * as z from "../util/zod.js";

/**
 * `[metrics]`: where the Prometheus textfile goes. node_exporter's textfile collector reads
 * only files ending in .prom from its directory (--collector.textfile.directory).
 */
export const metricsSchema = z.strictObject({
  textfile: z
    .string()
    .min(1, "must not be empty")
    .refine((p) => isAbsolute(p), { message: "must be an absolute path" })
    .refine((p) => p.endsWith(".prom"), {
      message: "must end in .prom (node_exporter's textfile collector reads only *.prom)",
    }),
});

export type MetricsConfig = z.infer<typeof metricsSchema>;
