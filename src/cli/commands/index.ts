import type { Command } from "../command.js";
import { backupCommand } from "./backup.js";
import { checkCommand } from "./check.js";
import { cleanupCommand } from "./cleanup.js";
import { configCommand } from "./config.js";
import { demoCommand } from "./demo.js";
import { diffCommand } from "./diff.js";
import { doctorCommand } from "./doctor.js";
import { forgetCommand } from "./forget.js";
import { helpCommand } from "./help.js";
import { completeCommand, generateCommand } from "./internal.js";
import { lsCommand } from "./ls.js";
import { plansCommand } from "./plans-list.js";
import { pruneCommand } from "./prune.js";
import { restoreCommand } from "./restore.js";
import { resticCommand } from "./restic.js";
import { scheduleCommand } from "./schedule.js";
import { serveCommand } from "./serve.js";
import { snapshotsCommand } from "./snapshots.js";
import { statsCommand } from "./stats.js";
import { statusCommand } from "./status.js";
import { unlockCommand } from "./unlock.js";
import { tokenCommand } from "./token.js";
import { userCommand } from "./user.js";

/**
 * Every command, in the order help lists them. A new command is one file that exports
 * `defineCommand({...})` and one line here.
 */
export const commands: Command[] = [
  backupCommand,
  plansCommand,
  snapshotsCommand,
  lsCommand,
  diffCommand,
  statsCommand,
  restoreCommand,
  forgetCommand,
  pruneCommand,
  checkCommand,
  cleanupCommand,
  unlockCommand,
  statusCommand,
  doctorCommand,
  configCommand,
  scheduleCommand,
  demoCommand,
  resticCommand,
  helpCommand,
  completeCommand,
  generateCommand,
  serveCommand,
  userCommand,
  tokenCommand,
];
