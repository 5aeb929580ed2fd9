/**
 * zod as every schema module imports it: `import * as z from "../util/zod.js"`.
 *
 * Importing the namespace (not `import { z } from "zod"`) lets the bundler keep only the parts
 * we use: the `z` object drags in all of zod, 60 locales included, and parsing that 0.75 MB
 * cost every command ~25 ms at start. zod's own `config(en())` goes with it (zod declares
 * itself free of side effects), and config/load.ts builds its messages from zod's English
 * ones ("Too small…"), so the English locale is set here, once, before any schema parses.
 */
import { config } from "zod";
import { en } from "zod/locales";

config(en());

export * from "zod";
