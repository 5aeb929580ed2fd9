# The pure parts of the NixOS module: builtins only (no nixpkgs), so that a test can evaluate them
# with a bare `nix-instantiate --eval` and feed the result to `snapback config validate`.
{
  hardening ? builtins.fromJSON (builtins.readFile ./hardening.json),
}:
rec {
  # The sandbox of every snapback unit, the same list `schedule install` and `make install` write
  # (src/schedule/hardening.ts; a test keeps this file equal to it).
  hardeningConfig = builtins.listToAttrs (
    map (s: {
      name = s.key;
      value = s.value;
    }) hardening
  );

  # Settings end up in the world-readable Nix store: secrets must come from *_file paths.
  secretProblems =
    settings:
    let
      repos = settings.repositories or { };
      credentialUrl = url: builtins.match "[^ ]*://[^/@]*:[^/@]*@.*" url != null;
      problems =
        name: repo:
        (
          if repo ? env then
            [
              "services.snapback.settings.repositories.${name}.env: would put secrets into the Nix store; use env_file"
            ]
          else
            [ ]
        )
        ++ (
          if repo ? url && credentialUrl repo.url then
            [
              "services.snapback.settings.repositories.${name}.url: holds credentials, which would land in the Nix store; put them in env_file (e.g. RESTIC_REST_USERNAME/RESTIC_REST_PASSWORD)"
            ]
          else
            [ ]
        );
    in
    builtins.concatLists (builtins.attrValues (builtins.mapAttrs problems repos));

  # Plans that get a systemd timer: those with a schedule, unless the daemon schedules them.
  timedPlans =
    settings:
    let
      plans = settings.plans or { };
      daemonSchedules = (settings.server or { }).scheduler or false;
    in
    if daemonSchedules then
      { }
    else
      builtins.listToAttrs (
        builtins.concatMap (
          name:
          let
            plan = plans.${name};
          in
          if plan ? schedule then
            [
              {
                inherit name;
                value = plan;
              }
            ]
          else
            [ ]
        ) (builtins.attrNames plans)
      );

  # One oneshot service and one persistent timer per timed plan, in the shape of NixOS's
  # systemd.services / systemd.timers options.
  planUnits =
    {
      settings,
      snapback,
      configFile,
      systemdInhibit,
      inhibitSleepDefault ? false,
    }:
    builtins.mapAttrs (name: plan: {
      service = {
        description = "snapback backup of plan ${name}";
        documentation = [ "man:snapback(1)" ];
        wants = [ "network-online.target" ];
        after = [ "network-online.target" ];
        serviceConfig = hardeningConfig // {
          Type = "oneshot";
          ExecStart =
            (
              if plan.inhibit_sleep or inhibitSleepDefault then
                "${systemdInhibit} --what=sleep:shutdown --who=snapback \"--why=backup of plan ${name}\" --mode=block "
              else
                ""
            )
            + "${snapback} --config ${configFile} backup ${name}";
          KillSignal = "SIGINT";
          TimeoutStopSec = "5min";
        };
      };
      timer = {
        description = "snapback backup of plan ${name} (${plan.schedule})";
        wantedBy = [ "timers.target" ];
        timerConfig = {
          OnCalendar = plan.schedule;
          Persistent = true;
          RandomizedDelaySec = "5min";
        };
      };
    }) (timedPlans settings);
}
