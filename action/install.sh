#!/usr/bin/env bash
# Installs Windlass for the action's run step and puts it on PATH through
# $GITHUB_PATH.
#
# install=release: the archive windlass-VERSION-TARGET.tar.gz (.zip on
# Windows) for the runner's OS and architecture, downloaded without
# credentials, checked against the sha256 pinned in action/sha256sums
# (a missing pin or a mismatch stops here, before anything reaches PATH),
# unpacked into $RUNNER_TOOL_CACHE/windlass/VERSION/TARGET, which later runs
# reuse without downloading.
# install=cargo: `cargo install --locked` of the action's own source.
#
# Everything comes in through the environment (the step's `env:`), never
# through the script text.
set -euo pipefail

action_path=${WINDLASS_ACTION_PATH:?the action path is not set}
install=${WINDLASS_ACTION_INSTALL:-release}
version=${WINDLASS_ACTION_VERSION:-}
download_url=${WINDLASS_ACTION_DOWNLOAD_URL:-}
sums="$action_path/action/sha256sums"

# Workflow commands on stderr: the runner reads both streams, and a
# function whose stdout is captured still reports.
fail() {
    echo "::error title=windlass action::$1" >&2
    exit 1
}

work=
cleanup() {
    if [[ -n "$work" ]]; then
        rm -rf "$work"
    fi
}
trap cleanup EXIT

add_to_path() {
    echo "$1" >>"${GITHUB_PATH:?GITHUB_PATH is not set}"
    echo "windlass is in $1"
}

# The Rust target of the runner.
runner_target() {
    case "${WINDLASS_ACTION_RUNNER_OS:-}/${WINDLASS_ACTION_RUNNER_ARCH:-}" in
    Linux/X64) echo x86_64-unknown-linux-musl ;;
    Linux/ARM64) echo aarch64-unknown-linux-musl ;;
    macOS/X64) echo x86_64-apple-darwin ;;
    macOS/ARM64) echo aarch64-apple-darwin ;;
    Windows/X64) echo x86_64-pc-windows-msvc ;;
    *) fail "no Windlass release for runner ${WINDLASS_ACTION_RUNNER_OS:-?}/${WINDLASS_ACTION_RUNNER_ARCH:-?}; use install: cargo" ;;
    esac
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    else
        shasum -a 256 "$1" | cut -d' ' -f1
    fi
}

# The newest version pinned in the sums file (numeric, dot by dot).
newest_pinned() {
    awk '!/^#/ && NF == 3 { print $1 }' "$sums" |
        sort -u -t. -k1,1n -k2,2n -k3,3n | tail -n 1
}

install_with_cargo() {
    local root="${RUNNER_TEMP:?RUNNER_TEMP is not set}/windlass-cargo"
    echo "building windlass from $action_path with cargo install --locked"
    cargo install --locked --path "$action_path/crates/windlass" --root "$root"
    add_to_path "$root/bin"
}

# The release download URL's base: the input, else this action's
# repository's releases (derived from the action path when the runner leaves
# github.action_repository empty, as it does in some composite contexts).
release_base() {
    local server=${WINDLASS_ACTION_SERVER_URL:-https://github.com}
    if [[ -n "$download_url" && "$download_url" != "$server//releases/download" ]]; then
        echo "${download_url%/}"
        return
    fi
    # .../_actions/OWNER/REPO/REF
    local path=${action_path//\\//}
    local ref_dir=${path%/}
    local repo_dir=${ref_dir%/*}
    local repo=${repo_dir##*/}
    local owner_dir=${repo_dir%/*}
    local owner=${owner_dir##*/}
    [[ -n "$owner" && -n "$repo" ]] || fail "cannot tell this action's repository; set download-url"
    echo "$server/$owner/$repo/releases/download"
}

install_release() {
    local target archive_ext exe
    target=$(runner_target)
    archive_ext=tar.gz
    exe=windlass
    if [[ "$target" == *windows* ]]; then
        archive_ext=zip
        exe=windlass.exe
    fi
    [[ -f "$sums" ]] || fail "$sums is missing: this action ref pins no release"
    version=${version#v}
    if [[ -z "$version" ]]; then
        version=$(newest_pinned)
        [[ -n "$version" ]] || fail "action/sha256sums pins no version; pass version: or use install: cargo"
    fi
    [[ "$version" =~ ^[0-9A-Za-z.+-]+$ ]] || fail "\`$version\` is not a version"

    local expected
    expected=$(awk -v v="$version" -v t="$target" '!/^#/ && $1 == v && $2 == t { print $3; exit }' "$sums")
    [[ -n "$expected" ]] || fail "no sha256 pinned for windlass $version $target in action/sha256sums: refusing to install an unchecked binary (use an action ref that pins it, or install: cargo)"

    local tool_cache=${RUNNER_TOOL_CACHE:?RUNNER_TOOL_CACHE is not set}
    local dir="$tool_cache/windlass/$version/$target"
    local marker="$dir.complete"
    if [[ -f "$marker" && "$(cat "$marker")" == "$expected" && -x "$dir/$exe" ]]; then
        echo "windlass $version ($target) from the tool cache"
        add_to_path "$dir"
        return
    fi

    local base name url
    base=$(release_base)
    name="windlass-$version-$target"
    url="$base/v$version/$name.$archive_ext"
    work=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/windlass-install.XXXXXX")
    echo "downloading $url"
    curl --fail --silent --show-error --location --retry 3 --connect-timeout 30 \
        --proto '=https,file' --proto-redir '=https' \
        --output "$work/$name.$archive_ext" "$url" ||
        fail "cannot download $url"

    local actual
    actual=$(sha256_of "$work/$name.$archive_ext")
    if [[ "$actual" != "$expected" ]]; then
        fail "sha256 mismatch for $name.$archive_ext: got $actual, action/sha256sums pins $expected; refusing to install it"
    fi

    mkdir -p "$work/unpacked"
    if [[ "$archive_ext" == zip ]]; then
        if command -v unzip >/dev/null 2>&1; then
            unzip -q "$work/$name.$archive_ext" -d "$work/unpacked"
        else
            7z x -bd -o"$work/unpacked" "$work/$name.$archive_ext" >/dev/null
        fi
    else
        tar -xzf "$work/$name.$archive_ext" -C "$work/unpacked"
    fi
    [[ -f "$work/unpacked/$name/$exe" ]] || fail "$name.$archive_ext holds no $name/$exe"

    rm -rf "$dir" "$marker"
    mkdir -p "$(dirname "$dir")"
    mv "$work/unpacked/$name" "$dir"
    chmod +x "$dir/$exe"
    echo "$expected" >"$marker"
    echo "windlass $version ($target) installed, sha256 $expected"
    add_to_path "$dir"
}

case "$install" in
release) install_release ;;
cargo) install_with_cargo ;;
*) fail "install must be \`release\` or \`cargo\`, not \`$install\`" ;;
esac
