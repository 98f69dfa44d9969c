#!/usr/bin/env bash
# Fetch the JavaScript the static book needs to work with no network, from npm:
#
#  * @jupyter-widgets/html-manager 1.0.15 -> _static/html-manager/
#    Renders the saved ipywidgets state (ipywidgets 8, state schema 2). dist/embed.js
#    is self-contained (no require.js); myst-nb's CDN loader is switched off in
#    _config.yml (nb_ipywidgets_js: {}). jupyter-book adds every *.js under
#    _static/ to every page, so nothing else may live there.
#  * mathjax 3.2.2 -> _extra/mathjax/
#    Sphinx loads MathJax from a CDN by default; _config.yml points mathjax_path
#    at this copy. It lives outside _static/ (html_extra_path) so that
#    jupyter-book does not add its hundreds of modules to every page.
#
#   tools/fetch_book_js.sh [ROOT]      # default ROOT: the repository
#
# Idempotent and offline once fetched: a package whose VERSION stamp matches is
# skipped. Tarballs are checked against pinned sha256s; each package is assembled
# beside its destination and moved in, so a failed run leaves no half copy.
set -euo pipefail

ROOT="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"

# fetch NPM_SPEC VERSION SHA256 DEST COPY_FUNCTION
fetch() {
    local spec="$1" version="$2" sha="$3" dest="$4" copy="$5"
    if [[ -f "$dest/VERSION" && "$(cat "$dest/VERSION")" == "$version" ]]; then
        echo "fetch_book_js: $spec@$version already in $dest"
        return
    fi
    if ! command -v npm >/dev/null 2>&1; then
        echo "fetch_book_js: ERROR: npm is not installed and $dest is missing." >&2
        echo "  Install Node.js/npm (e.g. 'apt-get install npm') and re-run $0." >&2
        exit 1
    fi
    local tmp
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' RETURN
    echo "fetch_book_js: npm pack $spec@$version"
    if ! (cd "$tmp" && npm pack --prefer-offline --silent "$spec@$version" >/dev/null); then
        echo "fetch_book_js: ERROR: 'npm pack $spec@$version' failed (no network and not in the npm cache?)" >&2
        exit 1
    fi
    local tarball got
    tarball="$(ls "$tmp"/*.tgz)"
    got="$(sha256sum "$tarball" | cut -d' ' -f1)"
    if [[ "$got" != "$sha" ]]; then
        echo "fetch_book_js: ERROR: sha256 of $(basename "$tarball") is $got, expected $sha" >&2
        exit 1
    fi
    tar -xzf "$tarball" -C "$tmp"
    local new="$dest.new.$$"
    rm -rf "$new"
    mkdir -p "$new"
    "$copy" "$tmp/package" "$new"
    echo "$version" > "$new/VERSION"
    rm -rf "$dest"
    mv "$new" "$dest"
    echo "fetch_book_js: installed $spec@$version into $dest ($(du -sh "$dest" | cut -f1))"
}

copy_html_manager() {  # embed.js, its licence and the Font Awesome files it loads
    local dist="$1/dist"
    cp "$dist/embed.js" "$2/"
    [[ -f "$dist/embed.js.LICENSE.txt" ]] && cp "$dist/embed.js.LICENSE.txt" "$2/"
    shopt -s nullglob
    for f in "$dist"/*.woff2 "$dist"/*.woff "$dist"/*.ttf "$dist"/*.eot "$dist"/*.svg; do
        cp "$f" "$2/"
    done
}

copy_mathjax() {  # the TeX-to-CHTML bundle with every extension, plus what it loads
    local es5="$1/es5"
    cp "$es5/tex-chtml-full.js" "$1/LICENSE" "$2/"
    cp -r "$es5/output" "$es5/ui" "$es5/a11y" "$es5/adaptors" "$es5/input" "$2/"
}

fetch @jupyter-widgets/html-manager 1.0.15 \
    2b9d65cb7913e1c7d671757a10008b32c9c2448d4429513371e55c07d6107638 \
    "$ROOT/_static/html-manager" copy_html_manager
fetch mathjax 3.2.2 \
    1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09 \
    "$ROOT/_extra/mathjax" copy_mathjax
