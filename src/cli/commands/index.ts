import type { Command } from "../command.js";
import { backupCommand } from "./backup.js";
import { checkCommand } from "./check.js";
import { cleanupCommand } from "./cleanup.js";
import { configCommand } from "./config.js";
import { demoCommand } from "./demo.js";
import { doctorCommand } from "./doctor.js";
import { pruneCommand } from "./prune.js";
import { restoreCommand } from "./restore.js";
import { scheduleCommand } from "./schedule.js";
import { serveCommand } from "./serve.js";
import { snapshotsCommand } from "./snapshots.js";
import { statusCommand } from "./status.js";
import { tokenCommand } from "./token.js";
import { userCommand } from "./user.js";

export const commands: Command[] = [
  backupCommand,
  snapshotsCommand,
  restoreCommand,
  pruneCommand,
  checkCommand,
  cleanupCommand,
  statusCommand,
  doctorCommand,
  configCommand,
  scheduleCommand,
  demoCommand,
  serveCommand,
  userCommand,
  tokenCommand,
];
