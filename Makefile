# snapback — two commands from a fresh clone, as root on Debian: `make demo`, `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := build

# Debian packages. The demo needs only the first list; the tests drive everything for real.
DEMO_PACKAGES := restic btrfs-progs util-linux mount procps tar
APT_PACKAGES := $(DEMO_PACKAGES) systemd zfs-fuse openssh-server openssh-client rclone postgresql mariadb-server sqlite3 dbus nix-bin dbus-daemon dbus-bin libglib2.0-bin
# Test-only: the man page is rendered with groff/man, the completions run in bash, zsh and fish,
# the web UI in Debian's Chromium (never a downloaded browser); btrbk is the bench's peer.
APT_PACKAGES += groff-base man-db zsh fish chromium fonts-dejavu-core btrbk
# python3: the serve test listens on a datagram socket like systemd (Type=notify).
APT_PACKAGES += python3
# prometheus: promtool parses the metrics textfile in the tests.
APT_PACKAGES += prometheus
# strace: a test counts the run journal's flushes to disk.
APT_PACKAGES += strace
NODE_STAMP := node_modules/.package-lock.json

PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: deps apt-deps demo-deps restic-trixie build demo test bench lint typecheck clean install uninstall

deps: apt-deps restic-trixie $(NODE_STAMP)

# restic 0.18 and rest-server 0.13 from Debian 13 for the test matrix, unpacked into a
# gitignored cache; the system's apt sources and its restic stay as they are.
restic-trixie: apt-deps
	@scripts/debian-trixie.sh .cache/debian-trixie

demo-deps: PACKAGES = $(DEMO_PACKAGES)
demo-deps: install-packages $(NODE_STAMP)

apt-deps: PACKAGES = $(APT_PACKAGES)
apt-deps: install-packages

.PHONY: install-packages
install-packages:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
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

demo: demo-deps build
	node dist/snapback.js demo

test: deps build
	npx vitest run

bench: deps build
	node dist/bench.js

typecheck: $(NODE_STAMP)
	npx tsc --noEmit
	npx tsc -p web --noEmit

lint: $(NODE_STAMP) typecheck
	npx eslint .
	npx prettier --check .

# The CLI, its launcher, systemd units, D-Bus policy, completions and man page; uninstall removes
# exactly what install recorded in $(PREFIX)/lib/snapback/install-manifest.
install: build
	node scripts/install.mjs install --prefix "$(PREFIX)" --destdir "$(DESTDIR)"

uninstall:
	node scripts/install.mjs uninstall --prefix "$(PREFIX)" --destdir "$(DESTDIR)"

clean:
	rm -rf dist coverage
