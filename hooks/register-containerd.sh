#!/usr/bin/env bash
# Registers memguard-runc as the containerd runtime "memguard" in a config.toml (version 2):
#   hooks/register-containerd.sh CONFIG_TOML MEMGUARD_RUNC_PATH
# Idempotent (a config that already has the runtime is left alone), keeps a backup of the file
# it changes, and only appends: the rest of the file stays byte for byte.
set -euo pipefail
config=${1:?usage: register-containerd.sh CONFIG_TOML MEMGUARD_RUNC_PATH}
binary=${2:?usage: register-containerd.sh CONFIG_TOML MEMGUARD_RUNC_PATH}
here=$(cd "$(dirname "$0")" && pwd)
die() { echo "register-containerd.sh: $*" >&2; exit 1; }

case "$binary" in /*) ;; *) die "the memguard-runc path must be absolute: $binary" ;; esac
[ -x "$binary" ] || die "$binary is not an executable"
if [ ! -e "$config" ]; then
	command -v containerd >/dev/null || die "$config does not exist and containerd is not installed to write a default one"
	mkdir -p "$(dirname "$config")"
	containerd config default > "$config"
	echo "register-containerd.sh: wrote containerd's default configuration to $config"
fi
[ -f "$config" ] && [ ! -L "$config" ] || die "$config is not a regular file"
grep -Eq '^[[:space:]]*version[[:space:]]*=[[:space:]]*2' "$config" ||
	die "$config is not a version 2 containerd configuration; add the block in hooks/containerd-memguard.toml by hand"
if grep -Fq 'containerd.runtimes.memguard]' "$config"; then
	echo "register-containerd.sh: $config already registers the memguard runtime; left as it is"
	exit 0
fi
backup="$config.before-memguard.$(date +%Y%m%d%H%M%S)"
cp -p "$config" "$backup"
{ printf '\n'; sed "s|@MEMGUARD_RUNC@|$binary|" "$here/containerd-memguard.toml"; } >> "$config"
echo "register-containerd.sh: registered runtime \"memguard\" ($binary) in $config (backup: $backup); restart containerd to use it"
