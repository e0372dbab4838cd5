# Sourced by install-toolchains.sh and build-lang-plugins.sh: where the guest
# toolchains live, and PATH entries for them. Tools already on PATH come
# after these, so a toolchain installed elsewhere is used too.
#
#   source scripts/toolchains-env.sh     # in your shell, to run asc,
#                                        # componentize-py... by hand

MMHOST_TOOLCHAINS="${MMHOST_TOOLCHAINS:-${XDG_CACHE_HOME:-$HOME/.cache}/mmhost-toolchains}"
MMHOST_NODE="$MMHOST_TOOLCHAINS/node"
MMHOST_PY="$MMHOST_TOOLCHAINS/py"
MMHOST_GO="$MMHOST_TOOLCHAINS/go"
export MMHOST_TOOLCHAINS MMHOST_NODE MMHOST_PY MMHOST_GO

case ":$PATH:" in
    *":$MMHOST_TOOLCHAINS/cargo/bin:"*) ;;
    *) PATH="$MMHOST_TOOLCHAINS/cargo/bin:$MMHOST_NODE/node_modules/.bin:$MMHOST_PY/bin:$PATH" ;;
esac
# Go's own bin directory (go, gofmt), not the venv's bin, which has a python.
case ":$PATH:" in
    *":$MMHOST_GO/root/bin:"*) ;;
    *) PATH="$MMHOST_GO/root/bin:$PATH" ;;
esac
export PATH
# Builds with the installed Go only, never a downloaded one or modules.
export GOTOOLCHAIN=local GOPROXY=off

# The languages of plugins/LANGUAGES (the one list), one a line.
mmhost_languages() {
    local root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$root/plugins/LANGUAGES"
}
