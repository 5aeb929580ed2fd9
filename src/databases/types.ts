import type { StreamSink, StreamSource } from "../engine/types.js";
import type { DumpFormat } from "./naming.js";
import type { DatabaseConfig } from "../config/databases.js";

export interface DriverContext {
  /** A private (0700) directory for temp files; the caller removes it. */
  tmpDir: string;
  signal: AbortSignal;
  /** The key path of the entry in the config, for messages: plans.p.databases[0]. */
  key: string;
}

/** A source or sink made ready; disposing removes what preparing created (temp files). */
export interface Prepared<T> extends AsyncDisposable {
  value: T;
}

/** One kind of database: how its dumps are made and loaded back. */
export interface DatabaseDriver<D extends DatabaseConfig = DatabaseConfig> {
  /** How the dump is stored (the stored file's suffix). */
  format(db: D): DumpFormat;
  /** The program (or file) whose bytes are the dump. */
  prepareDump(db: D, ctx: DriverContext): Promise<Prepared<StreamSource>>;
  /** The program that loads a stored dump of `format` into the database `target`. */
  prepareLoad(
    db: D,
    format: DumpFormat,
    target: string,
    ctx: DriverContext,
  ): Promise<Prepared<StreamSink>>;
  /** The dump command for --dry-run (no secrets). */
  describe(db: D): string;
}

export const nothingToDispose = async (): Promise<void> => {};
