# NixOS module: services.snapback. Settings are freeform TOML (RFC 42): whatever
# /etc/snapback/snapback.toml accepts, secrets only as *_file paths. The generated file is
# checked at build time with `snapback config validate --schema-only`.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.services.snapback;
  pure = import ./lib.nix { };
  settingsFormat = pkgs.formats.toml { };
  exe = lib.getExe' cfg.package "snapback";
  configPath = "/etc/snapback/snapback.toml";

  generated = settingsFormat.generate "snapback.toml" cfg.settings;
  # Fails the build when the file is invalid: the tool itself is the validator (no secrets,
  # pools or network in the sandbox, hence --schema-only).
  checkedConfig = pkgs.runCommand "snapback.toml" { } ''
    ${exe} --config ${generated} config validate --schema-only
    cp ${generated} $out
  '';

  units = pure.planUnits {
    settings = cfg.settings;
    snapback = exe;
    configFile = configPath;
    systemdInhibit = "${config.systemd.package}/bin/systemd-inhibit";
    inhibitSleepDefault = cfg.inhibitSleep;
  };

  # Like services.restic.backups.<name>.createWrapper: `snapback-<plan> snapshots` runs restic
  # against the plan's repository with the service's environment.
  wrappers = lib.mapAttrsToList (
    plan: _:
    pkgs.writeShellScriptBin "snapback-${plan}" ''
      exec ${exe} --config ${configPath} restic ${lib.escapeShellArg plan} -- "$@"
    ''
  ) (cfg.settings.plans or { });
in
{
  options.services.snapback = {
    enable = lib.mkEnableOption "snapback point-in-time backups (btrfs/ZFS snapshots shown to restic at their original paths)";

    package = lib.mkOption {
      type = lib.types.package;
      default = pkgs.snapback or (pkgs.callPackage ./package.nix { });
      defaultText = lib.literalExpression "pkgs.snapback";
      description = "The snapback package.";
    };

    settings = lib.mkOption {
      type = lib.types.submodule {
        freeformType = settingsFormat.type;
        options.state_dir = lib.mkOption {
          type = lib.types.str;
          default = "/var/lib/snapback";
          description = "Journals, locks, history and the restic cache.";
        };
      };
      default = { };
      description = ''
        Contents of /etc/snapback/snapback.toml (see snapback(1)). Secrets must be given as
        paths: `password_file`, `env_file`; inline `env` tables and URLs with credentials are
        refused because the file lives in the world-readable Nix store.
      '';
      example = lib.literalExpression ''
        {
          repositories.nas = {
            engine = "restic";
            url = "sftp:backup@nas:/srv/restic";
            password_file = "/run/keys/restic-nas";
            init = true;
          };
          plans.home = {
            sources = [ "/home" ];
            repositories = [ "nas" ];
            schedule = "daily";
            retention = { keep_daily = 7; keep_weekly = 4; keep_monthly = 12; };
          };
        }
      '';
    };

    inhibitSleep = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = "Default of plans' `inhibit_sleep`: hold a sleep inhibitor while a backup runs (turn on for laptops).";
    };

    extraPackages = lib.mkOption {
      type = lib.types.listOf lib.types.package;
      default = with pkgs; [
        restic
        btrfs-progs
        util-linux
      ];
      defaultText = lib.literalExpression "with pkgs; [ restic btrfs-progs util-linux ]";
      description = "Put on the PATH of every snapback unit (engines, filesystem tools, hooks' commands).";
    };

    createWrappers = lib.mkOption {
      type = lib.types.bool;
      default = true;
      description = "Install a `snapback-<plan>` command per plan that runs restic against the plan's repository.";
    };

    serve.enable = lib.mkEnableOption "the snapback daemon: scheduler, web UI, HTTP API and D-Bus (settings.server)";

    dbus.enable = lib.mkOption {
      type = lib.types.bool;
      default = true;
      description = "Install the D-Bus policy for org.snapback.Snapback1 (progress and control on the system bus).";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = map (message: {
      assertion = false;
      inherit message;
    }) (pure.secretProblems cfg.settings);

    environment.etc."snapback/snapback.toml".source = checkedConfig;
    environment.systemPackages = [ cfg.package ] ++ lib.optionals cfg.createWrappers wrappers;

    systemd.services =
      lib.mapAttrs' (
        plan: u:
        lib.nameValuePair "snapback-${plan}" (
          u.service
          // {
            path = cfg.extraPackages;
            # A backup is not a daemon: switching configurations must not start one.
            restartIfChanged = false;
          }
        )
      ) units
      // lib.optionalAttrs cfg.serve.enable {
        snapback-serve = {
          description = "snapback service: scheduler, web UI, HTTP API and D-Bus";
          documentation = [ "man:snapback(1)" ];
          wantedBy = [ "multi-user.target" ];
          wants = [ "network-online.target" ];
          after = [ "network-online.target" ];
          path = cfg.extraPackages;
          serviceConfig = pure.hardeningConfig // {
            Type = "notify";
            NotifyAccess = "all";
            ExecStart = "${exe} --config ${configPath} serve";
            KillMode = "mixed";
            TimeoutStopSec = "5min";
            Restart = "on-failure";
          };
        };
      };

    systemd.timers = lib.mapAttrs' (plan: u: lib.nameValuePair "snapback-${plan}" u.timer) units;

    services.dbus.packages = lib.optional cfg.dbus.enable cfg.package;
  };
}
