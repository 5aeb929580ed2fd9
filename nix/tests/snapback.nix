# NixOS VM test (modelled on nixpkgs' nixos/tests/restic.nix): a btrfs disk, a scheduled plan,
# a backup through the generated unit, restore and compare, nothing left behind, the wrapper,
# the build-time config check and the D-Bus policy. Run: nix build .#checks.x86_64-linux.vm
{ module }:
{
  name = "snapback";

  nodes.machine =
    { pkgs, ... }:
    {
      imports = [ module ];
      virtualisation.emptyDiskImages = [ 1024 ];
      boot.supportedFilesystems = [ "btrfs" ];
      environment.systemPackages = [ pkgs.btrfs-progs ];
      services.snapback = {
        enable = true;
        serve.enable = false;
        settings = {
          state_dir = "/var/lib/snapback";
          repositories.local = {
            engine = "restic";
            url = "/var/backup/restic";
            password_file = "/etc/snapback/local.pass";
            init = true;
          };
          plans.data = {
            sources = [ "/data" ];
            repositories = [ "local" ];
            schedule = "daily";
            retention.keep_last = 2;
          };
        };
      };
    };

  testScript = ''
    machine.wait_for_unit("multi-user.target")
    machine.succeed(
        "mkfs.btrfs /dev/vdb",
        "mkdir -p /data /var/backup",
        "mount /dev/vdb /data",
        "echo point-in-time > /data/file",
        "install -m 600 /dev/null /etc/snapback/local.pass",
        "echo correct-horse > /etc/snapback/local.pass",
    )
    # The timer exists and is persistent; the generated config was validated at build time.
    machine.succeed("systemctl list-timers --all | grep snapback-data.timer")
    machine.succeed("grep -q Persistent=true /etc/systemd/system/snapback-data.timer")
    machine.succeed("snapback config validate")

    machine.systemctl("start snapback-data.service")
    machine.wait_until_succeeds("systemctl show -p Result snapback-data.service | grep -q success")
    out = machine.succeed("snapback-data snapshots --json")
    assert "/data" in out, out

    machine.succeed(
        "snapback restore data --target /tmp/restore",
        "diff /tmp/restore/data/file /data/file",
    )
    # Nothing of the run is left: no snapshot subvolume, no mount.
    machine.fail("btrfs subvolume list /data | grep snapback@")
    machine.fail("findmnt -rn | grep snapback")
    # The hardening is in force.
    machine.succeed("systemctl show -p NoNewPrivileges snapback-data.service | grep -q yes")
    machine.succeed("test -f /etc/dbus-1/system.d/org.snapback.Snapback1.conf || ls /run/current-system/sw/share/dbus-1/system.d | grep -q snapback")
  '';
}
