# snapback — two commands from a fresh clone, as root on Debian: `make demo`, `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := build

# Debian packages the tool and its tests drive for real.
APT_PACKAGES := restic btrfs-progs util-linux mount procps systemd zfs-fuse openssh-server openssh-client rclone postgresql mariadb-server sqlite3 dbus tar
NODE_STAMP := node_modules/.package-lock.json

.PHONY: deps apt-deps restic-trixie build demo test bench lint typecheck clean

deps: apt-deps restic-trixie $(NODE_STAMP)

# restic 0.18 and rest-server 0.13 from Debian 13 for the test matrix, unpacked into a
# gitignored cache; the system's apt sources and its restic stay as they are.
restic-trixie: apt-deps
	@scripts/debian-trixie.sh .cache/debian-trixie

apt-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "missing packages: $$missing (run as root to install them)"; exit 1; fi; \
	  echo "installing: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

build: $(NODE_STAMP)
	node scripts/build.mjs

demo: deps build
	node dist/snapback.js demo

test: deps build
	npx vitest run

bench: deps build
	node dist/bench.js

typecheck: $(NODE_STAMP)
	npx tsc --noEmit

lint: $(NODE_STAMP) typecheck
	npx eslint .
	npx prettier --check .

clean:
	rm -rf dist coverage
