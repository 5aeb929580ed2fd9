# snapback as a Nix package: the esbuild bundle plus better-sqlite3 (rebuilt from source, offline),
# installed by the project's own `scripts/install.mjs` like `make install` does.
{
  lib,
  buildNpmPackage,
  importNpmLock,
  nodejs_20,
  python3,
  makeWrapper,
  restic,
  btrfs-progs,
  util-linux,
}:
let
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../package.json
      ../package-lock.json
      ../scripts
      ../src
      ../share
      ../web
    ];
  };
in
buildNpmPackage {
  pname = "snapback";
  version = (lib.importJSON ../package.json).version;
  inherit src;
  nodejs = nodejs_20;
  # Dependencies pinned by package-lock.json itself: no npmDepsHash to keep in step.
  npmDeps = importNpmLock { npmRoot = src; };
  npmConfigHook = importNpmLock.npmConfigHook;
  nativeBuildInputs = [
    python3
    makeWrapper
  ];

  buildPhase = ''
    runHook preBuild
    node scripts/build.mjs
    runHook postBuild
  '';

  installPhase = ''
    runHook preInstall
    node scripts/install.mjs install --prefix $out
    wrapProgram $out/bin/snapback --prefix PATH : ${
      lib.makeBinPath [
        restic
        btrfs-progs
        util-linux
      ]
    }
    runHook postInstall
  '';

  # The test suite needs root, loop devices and real filesystems: nix/tests/snapback.nix is the
  # check that runs in a VM.
  doCheck = false;

  meta = {
    description = "Point-in-time backups: btrfs/ZFS snapshots shown to restic at their original paths";
    license = lib.licenses.mit;
    platforms = lib.platforms.linux;
    mainProgram = "snapback";
  };
}
