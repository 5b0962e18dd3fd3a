#!/usr/bin/env bash
# Installs the Debian packages shipdeck's rig and demo drive, when they are missing.
# On Debian as root this installs them; elsewhere it says exactly what to install.
set -euo pipefail
declare -A need=(
  [dockerd]=docker.io [sshd]=openssh-server [ssh-keygen]=openssh-client
  [docker-registry]=docker-registry [nginx]=nginx [haproxy]=haproxy
  [prometheus]=prometheus [wrk]=wrk [hey]=hey [debootstrap]=debootstrap [curl]=curl
  [tmux]=tmux [python3.11]=python3.11-minimal
)
missing=()
for bin in "${!need[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || [ -x "/usr/bin/$bin" ] || missing+=("${need[$bin]}")
done
# /usr/lib/python3.11 (the stdlib the offline base image copies) comes from libpython3.11-stdlib.
[ -d /usr/lib/python3.11/http ] || missing+=(libpython3.11-stdlib)
# The PostgreSQL server tools (initdb, pg_ctl) live in /usr/lib/postgresql/N/bin, off PATH.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "shipdeck: installing ${missing[*]}" >&2
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "shipdeck: missing system packages: ${missing[*]}" >&2
  echo "  on Debian/Ubuntu: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
