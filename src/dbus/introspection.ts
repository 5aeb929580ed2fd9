import { MANAGER_IFACE, RUN_IFACE } from "./names.js";

/**
 * Introspection data. The same interface XML is shipped in share/dbus-1/interfaces/ (a test
 * keeps the files and these strings equal) for tools that read interfaces from disk.
 */

export const DOCTYPE =
  '<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">';

// The igotchuu members keep igotchuu's argument names, types and order exactly (its
// com.nyantec.igotchuu1 interface), so a widget written for it only needs the new names.
export const MANAGER_XML = `  <interface name="${MANAGER_IFACE}">
    <method name="ListPlans">
      <arg name="plans" type="as" direction="out"/>
    </method>
    <method name="StartBackup">
      <arg name="plan" type="s" direction="in"/>
      <arg name="options" type="a{sv}" direction="in"/>
      <arg name="run" type="o" direction="out"/>
    </method>
    <method name="ListRuns">
      <arg name="runs" type="ao" direction="out"/>
    </method>
    <signal name="RunStarted">
      <arg name="run" type="o"/>
      <arg name="plan" type="s"/>
    </signal>
    <signal name="RunFinished">
      <arg name="run" type="o"/>
      <arg name="plan" type="s"/>
      <arg name="status" type="s"/>
    </signal>
    <method name="Stop">
    </method>
    <signal name="BackupStarted">
    </signal>
    <signal name="Progress">
      <arg name="seconds_elapsed" type="t"/>
      <arg name="seconds_remaining" type="t"/>
      <arg name="percent_done" type="d"/>
      <arg name="total_files" type="t"/>
      <arg name="files_done" type="t"/>
      <arg name="total_bytes" type="t"/>
      <arg name="bytes_done" type="t"/>
      <arg name="error_count" type="t"/>
      <arg name="current_files" type="as"/>
    </signal>
    <signal name="BackupComplete">
      <arg name="files_new" type="t"/>
      <arg name="files_changed" type="t"/>
      <arg name="files_unmodified" type="t"/>
      <arg name="dirs_new" type="t"/>
      <arg name="dirs_changed" type="t"/>
      <arg name="dirs_unmodified" type="t"/>
      <arg name="data_blobs" type="x"/>
      <arg name="tree_blobs" type="x"/>
      <arg name="data_added" type="t"/>
      <arg name="total_files_processed" type="t"/>
      <arg name="total_bytes_processed" type="t"/>
      <arg name="total_duration" type="d"/>
      <arg name="snapshot_id" type="s"/>
      <arg name="dry_run" type="b"/>
    </signal>
    <signal name="Error">
      <arg name="error" type="s"/>
      <arg name="during" type="s"/>
      <arg name="item" type="s"/>
    </signal>
  </interface>
`;

/** Run properties in contract order, with their D-Bus types. */
export const RUN_PROPERTIES = [
  ["RunId", "s"],
  ["Plan", "s"],
  ["State", "s"],
  ["Repository", "s"],
  ["PercentDone", "d"],
  ["FilesDone", "t"],
  ["TotalFiles", "t"],
  ["BytesDone", "t"],
  ["TotalBytes", "t"],
  ["SecondsElapsed", "t"],
  ["SecondsRemaining", "t"],
  ["StartedAt", "t"],
] as const;

export type RunProperty = (typeof RUN_PROPERTIES)[number][0];

export const RUN_XML = `  <interface name="${RUN_IFACE}">
${RUN_PROPERTIES.map(([name, type]) => `    <property name="${name}" type="${type}" access="read"/>\n`).join("")}    <method name="Cancel">
    </method>
  </interface>
`;

const STANDARD_XML = `  <interface name="org.freedesktop.DBus.Introspectable">
    <method name="Introspect">
      <arg name="xml_data" type="s" direction="out"/>
    </method>
  </interface>
  <interface name="org.freedesktop.DBus.Peer">
    <method name="Ping">
    </method>
    <method name="GetMachineId">
      <arg name="machine_uuid" type="s" direction="out"/>
    </method>
  </interface>
  <interface name="org.freedesktop.DBus.Properties">
    <method name="Get">
      <arg name="interface_name" type="s" direction="in"/>
      <arg name="property_name" type="s" direction="in"/>
      <arg name="value" type="v" direction="out"/>
    </method>
    <method name="GetAll">
      <arg name="interface_name" type="s" direction="in"/>
      <arg name="props" type="a{sv}" direction="out"/>
    </method>
    <method name="Set">
      <arg name="interface_name" type="s" direction="in"/>
      <arg name="property_name" type="s" direction="in"/>
      <arg name="value" type="v" direction="in"/>
    </method>
    <signal name="PropertiesChanged">
      <arg name="interface_name" type="s"/>
      <arg name="changed_properties" type="a{sv}"/>
      <arg name="invalidated_properties" type="as"/>
    </signal>
  </interface>
`;

/** The XML for one object: its interfaces (if any) and its direct children. */
export function introspect(interfaces: string[], children: string[]): string {
  return `${DOCTYPE}\n<node>\n${interfaces.length > 0 ? STANDARD_XML : ""}${interfaces.join("")}${children
    .map((c) => `  <node name="${c}"/>\n`)
    .join("")}</node>\n`;
}

/** A shipped interface file: one interface inside a bare node. */
export function interfaceFile(ifaceXml: string): string {
  return `${DOCTYPE}\n<node>\n${ifaceXml}</node>\n`;
}
