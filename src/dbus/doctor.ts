import { access } from "node:fs/promises";
import { join } from "node:path";
import { errorMessage } from "../errors.js";
import { systemBusAddress } from "./address.js";
import { BUS_NAME, POLICY_DIRS, POLICY_FILE_NAME } from "./names.js";

export interface DbusCheck {
  name: string;
  ok: boolean;
  required: false;
  detail: string;
  fix?: string;
}

/** For `snapback doctor`: D-Bus is optional, so these only warn. */
export async function dbusDoctorChecks(): Promise<DbusCheck[]> {
  const address = systemBusAddress();
  let bus: DbusCheck;
  try {
    // The D-Bus library loads only for this check (the CLI's other commands never need it).
    const { connectSystemBus } = await import("./adapter.js");
    await using _connection = await connectSystemBus();
    bus = { name: "system bus", ok: true, required: false, detail: `reachable at ${address}` };
  } catch (e) {
    bus = {
      name: "system bus",
      ok: false,
      required: false,
      detail: `not reachable at ${address} (${errorMessage(e)}): runs are not published on D-Bus`,
      fix: "apt-get install dbus and start it (systemctl start dbus)",
    };
  }
  let installed: string | undefined;
  for (const dir of POLICY_DIRS) {
    const path = join(dir, POLICY_FILE_NAME);
    if (
      await access(path).then(
        () => true,
        () => false,
      )
    ) {
      installed = path;
      break;
    }
  }
  const policy: DbusCheck = installed
    ? { name: "D-Bus policy", ok: true, required: false, detail: `installed: ${installed}` }
    : {
        name: "D-Bus policy",
        ok: false,
        required: false,
        detail: `${POLICY_FILE_NAME} is not installed in ${POLICY_DIRS.join(" or ")}: ${BUS_NAME} cannot be owned`,
        fix: `install share/dbus-1/system.d/${POLICY_FILE_NAME} into ${POLICY_DIRS[0] ?? ""}/ and run systemctl reload dbus`,
      };
  return [bus, policy];
}
