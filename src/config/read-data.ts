/**
 * The `--read-data SUBSET` / `read_data` values: "all", or restic's `--read-data-subset`
 * forms — "n/t" (part n of t), "x%" / "x.y%" (a random share), or a size with a k/K, m/M,
 * g/G, t/T suffix (a random amount; restic 0.14 refuses a bare number).
 */
export const READ_DATA_FORMS =
  "all, n/t (e.g. 1/5), x% (e.g. 10% or 2.5%), or a size (e.g. 500M, 2G)";

/** What is wrong with a subset, or undefined when restic will accept it. */
export function readDataSubsetProblem(subset: string): string | undefined {
  if (subset === "all") return undefined;
  const part = /^(\d+)\/(\d+)$/.exec(subset);
  if (part) {
    const n = Number(part[1]);
    const t = Number(part[2]);
    if (t < 1 || n < 1 || n > t) return `"${subset}": n/t needs 1 <= n <= t`;
    return undefined;
  }
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(subset);
  if (pct) {
    const x = Number(pct[1]);
    if (!(x > 0 && x <= 100)) return `"${subset}": a percentage must be above 0 and at most 100`;
    return undefined;
  }
  const size = /^(\d+)([kKmMgGtT])$/.exec(subset);
  if (size) {
    if (Number(size[1]) === 0) return `"${subset}": the size must be above 0`;
    return undefined;
  }
  return `"${subset}" is not a read-data subset (use ${READ_DATA_FORMS})`;
}
