#!/usr/bin/env bash
# Installs what scripts/real-runtime/up.sh runs, from Debian 12's own packages: containerd and
# runc (the container runtime), docker-registry (the OCI registry), skopeo (pushes the sandbox
# image), apache2-utils (htpasswd, for the registry that demands basic auth), curl (health
# checks). Needs root. Installs nothing that is already there.
# Usage: scripts/real-runtime/install.sh
set -euo pipefail

packages=(containerd runc docker-registry skopeo apache2-utils curl)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "real-runtime packages already installed: ${packages[*]}"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: installing ${missing[*]} needs root" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The packages' own services are not wanted: up.sh runs private instances with their own
# configuration. Where an init system would start them at install time, policy-rc.d stops it.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
