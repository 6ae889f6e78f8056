#!/usr/bin/env bash
# Builds the release archives of the kubectl-restorehooks plugin that plugins/restorehooks.yaml (the krew
# manifest) points at, into dist/plugin/, and writes each archive's sha256 into that manifest. Run at
# release (make plugin-dist), then attach dist/plugin/* to the GitHub release of the manifest's version.
# PLATFORMS="os/arch ..." limits the build.
set -euo pipefail
cd "$(dirname "$0")/.."

manifest=plugins/restorehooks.yaml
version=$(awk '$1 == "version:" { print $2; exit }' "$manifest")
platforms=${PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64}
out=dist/plugin
rm -rf "$out"
mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

for p in $platforms; do
	os=${p%/*} arch=${p#*/}
	bin=kubectl-restorehooks
	[ "$os" = windows ] && bin=$bin.exe
	archive=kubectl-restorehooks_${version}_${os}_${arch}.tar.gz
	if ! grep -q "/$archive\$" "$manifest"; then
		echo "$manifest has no uri ending in /$archive (platform $p, version $version)" >&2
		exit 1
	fi
	rm -rf "${stage:?}"/*
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags "-s -w" -o "$stage/$bin" ./cmd/kubectl-restorehooks
	# Reproducible archives: fixed order, owner and times, so a rebuild gives the same sha256.
	tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - "$bin" | gzip -n > "$out/$archive"
	sum=$(sha256sum "$out/$archive" | cut -d' ' -f1)
	# The manifest's sha256 line that follows this archive's uri.
	awk -v archive="/$archive" -v sum="$sum" '
		hit && $1 == "sha256:" { sub(/sha256:.*/, "sha256: \"" sum "\""); hit = 0 }
		index($0, archive) { hit = 1 }
		{ print }' "$manifest" > "$manifest.tmp"
	mv "$manifest.tmp" "$manifest"
	echo "$out/$archive  sha256 $sum"
done
