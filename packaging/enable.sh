#!/bin/sh
# Enable an installed ratelog plugin on this host.
#
#   packaging/enable.sh NAME[:TAG]
#
# dockerd does not create a missing bind-mount source (moby
# plugin/v2/plugin_linux.go InitSpec passes it to runc, which fails with
# "no such file or directory"), so this creates the host side of the
# plugin's "logs" mount first: /var/log/ratelog unless it was changed with
# "docker plugin set NAME logs.source=DIR".  The same applies when
# installing from a registry:
#
#   mkdir -p /var/log/ratelog
#   docker plugin install --grant-all-permissions --alias ratelog REF
#
# The plugin is enabled with --timeout 0.  dockerd turns the enable timeout
# into the HTTP client timeout for every call to the plugin, including the
# body of a "docker logs --follow" stream, so the CLI's default of 30 s
# would cut followers off after 30 s (protocol doc section 1.2).
# "docker plugin install" and a daemon restart use 0 as well.
set -eu

[ $# -eq 1 ] || {
	echo "usage: $0 NAME[:TAG]" >&2
	exit 2
}
name=$1

if [ -z "${DOCKER:-}" ]; then
	if [ -x /usr/bin/docker ]; then
		DOCKER=/usr/bin/docker
	else
		DOCKER=docker
	fi
fi

state=$("$DOCKER" plugin inspect -f '{{.Enabled}}' "$name") || {
	echo "enable.sh: no plugin $name (make plugin PLUGIN=$name)" >&2
	exit 1
}
if [ "$state" = true ]; then
	echo "enable.sh: $name is already enabled"
	exit 0
fi

src=$("$DOCKER" plugin inspect \
	-f '{{range .Config.Mounts}}{{if eq .Name "logs"}}{{.Source}}{{end}}{{end}}' \
	"$name")
case $src in
/*)
	if [ ! -d "$src" ]; then
		echo "enable.sh: creating the log directory $src"
		mkdir -p "$src"
		chmod 0750 "$src"
	fi
	;;
*)
	echo "enable.sh: $name has no usable logs mount source ('$src')" >&2
	exit 1
	;;
esac

"$DOCKER" plugin enable --timeout 0 "$name"
echo "enable.sh: $name is enabled; logs go to $src/<container-id>/"
