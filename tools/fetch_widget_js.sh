#!/usr/bin/env bash
# Fetch the ipywidgets "HTML manager" (the JavaScript that renders embedded
# widget state in a static page) into the book's _static/ folder, so that
# widgets in the built HTML book work with no network access.
#
#   tools/fetch_widget_js.sh            # -> <repo>/_static/html-manager/
#   tools/fetch_widget_js.sh DIR        # -> DIR/html-manager/
#   HTML_MANAGER_VERSION=1.0.x tools/fetch_widget_js.sh   # other pin (no checksum check)
#
# Idempotent: if DIR/html-manager/embed.js is there for the pinned version it
# does nothing (and needs neither npm nor the network).
#
# Why embed.js: @jupyter-widgets/html-manager 1.x matches ipywidgets 8
# (widget state schema / protocol 2). dist/embed.js is a self-contained bundle
# (base, controls and output widgets included; no require.js needed) that renders
# every <script type="application/vnd.jupyter.widget-view+json"> on window load.
# dist/embed-amd.js is NOT used: it needs require.js. Only embed.js, its licence
# and the font files it loads (Font Awesome, found next to embed.js through
# webpack's automatic publicPath) are copied; the 6 MB source map is not.
#
# Note: jupyter-book 1.x adds every *.js under _static/ to every page, so keep
# no other widget bundle (e.g. a stale _static/embed-amd.js) in there.
set -euo pipefail

PINNED_VERSION="1.0.15"
# sha256 of the npm tarball jupyter-widgets-html-manager-1.0.15.tgz (registry
# tarballs are immutable); npm also checks the registry's sha512 integrity.
PINNED_SHA256="2b9d65cb7913e1c7d671757a10008b32c9c2448d4429513371e55c07d6107638"

VERSION="${HTML_MANAGER_VERSION:-$PINNED_VERSION}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATIC_DIR="${1:-$REPO_ROOT/_static}"
DEST="$STATIC_DIR/html-manager"
STAMP="$DEST/VERSION"

if [[ -f "$STATIC_DIR/embed-amd.js" ]]; then
    echo "fetch_widget_js: removing stale $STATIC_DIR/embed-amd.js (needs require.js; jupyter-book would load it on every page)" >&2
    rm -f "$STATIC_DIR/embed-amd.js"
fi

if [[ -f "$DEST/embed.js" && -f "$STAMP" && "$(cat "$STAMP")" == "$VERSION" ]]; then
    echo "fetch_widget_js: $DEST/embed.js already present (@jupyter-widgets/html-manager@$VERSION)"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    cat >&2 <<MSG
fetch_widget_js: ERROR: npm is not installed, and $DEST/embed.js is missing.
  The static book needs @jupyter-widgets/html-manager@$VERSION (dist/embed.js)
  to render its interactive widgets offline. Either install Node.js/npm
  (e.g. 'apt-get install npm') and re-run this script, or copy dist/embed.js
  and the font files next to it from that npm package into $DEST/ and write
  '$VERSION' to $STAMP.
MSG
    exit 1
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

echo "fetch_widget_js: npm pack @jupyter-widgets/html-manager@$VERSION"
if ! (cd "$TMP" && npm pack --prefer-offline --silent "@jupyter-widgets/html-manager@$VERSION" >/dev/null); then
    echo "fetch_widget_js: ERROR: 'npm pack @jupyter-widgets/html-manager@$VERSION' failed (no network and not in the npm cache?)" >&2
    exit 1
fi
TARBALL="$TMP/jupyter-widgets-html-manager-$VERSION.tgz"
if [[ ! -f "$TARBALL" ]]; then
    echo "fetch_widget_js: ERROR: npm pack did not produce $TARBALL" >&2
    exit 1
fi
if [[ "$VERSION" == "$PINNED_VERSION" ]]; then
    got="$(sha256sum "$TARBALL" | cut -d' ' -f1)"
    if [[ "$got" != "$PINNED_SHA256" ]]; then
        echo "fetch_widget_js: ERROR: sha256 mismatch for $TARBALL: $got != $PINNED_SHA256" >&2
        exit 1
    fi
fi

tar -xzf "$TARBALL" -C "$TMP"
DIST="$TMP/package/dist"
if [[ ! -f "$DIST/embed.js" ]]; then
    echo "fetch_widget_js: ERROR: $DIST/embed.js not in the package" >&2
    exit 1
fi

# Assemble next to the destination, then swap in, so a failed run leaves no half copy.
mkdir -p "$STATIC_DIR"
NEW="$STATIC_DIR/.html-manager.new.$$"
rm -rf "$NEW"
mkdir -p "$NEW"
cp "$DIST/embed.js" "$NEW/"
[[ -f "$DIST/embed.js.LICENSE.txt" ]] && cp "$DIST/embed.js.LICENSE.txt" "$NEW/"
shopt -s nullglob
for f in "$DIST"/*.woff2 "$DIST"/*.woff "$DIST"/*.ttf "$DIST"/*.eot "$DIST"/*.svg; do
    cp "$f" "$NEW/"
done
echo "$VERSION" > "$NEW/VERSION"
rm -rf "$DEST"
mv "$NEW" "$DEST"
echo "fetch_widget_js: installed @jupyter-widgets/html-manager@$VERSION into $DEST ($(du -sh "$DEST" | cut -f1))"
