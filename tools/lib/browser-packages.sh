# Sourced by tools/test: what the web console's browser tests
# (WebConsoleBrowserTests) need, installed only when missing: Debian's
# chromium and chromium-driver, and selenium from PyPI in a virtual
# environment under the cache directory (pip is not asked to touch the
# system's Python). Exports CAIRN_TEST_PYTHON, the interpreter that has
# selenium. CAIRN_TEST_BROWSER=0 skips all of it (the browser test then
# fails unless everything is already there).

browser_packages=(chromium chromium-driver python3-venv)

ensure_browser_packages() {
    local tool="$1" missing=() package
    [[ "${CAIRN_TEST_BROWSER:-1}" == 0 ]] && return 0
    for package in "${browser_packages[@]}"; do
        dpkg -s "$package" 2>/dev/null | grep -q '^Status: install ok installed$' || missing+=("$package")
    done
    if ((${#missing[@]} > 0)); then
        echo "$tool: installing ${missing[*]}" >&2
        local as_root=()
        [[ "$(id -u)" -ne 0 ]] && as_root=(sudo)
        "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
        "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
    local venv="${XDG_CACHE_HOME:-$HOME/.cache}/cairn-tests/venv"
    if ! "$venv/bin/python" -c 'import selenium' 2>/dev/null; then
        echo "$tool: installing selenium into $venv" >&2
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install -q 'selenium>=4.20,<5'
    fi
    export CAIRN_TEST_PYTHON="$venv/bin/python"
}
