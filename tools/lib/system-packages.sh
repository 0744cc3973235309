# Sourced by tools/test and tools/serve: installs the Debian packages the
# build links against, but only those that are missing (apt-get, as root or
# through sudo), and checks that a Swift toolchain is on PATH.

# lmdb-utils (mdb_dump) and python3: the audit tests recompute digests the
# way docs/auditing.md tells an auditor to, without Cairn. strace: the
# durable-publish test checks the order of fsyncs, renames and mkdirs.
# systemd: systemd-socket-activate and systemd-analyze for the tests of the
# units and of socket activation (no running systemd is needed).
required_packages=(liblmdb-dev libssl-dev libxxhash-dev pkg-config lmdb-utils python3 strace systemd)

is_installed() {
    dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed$'
}

ensure_system_packages() {
    local tool="$1" missing=() package
    for package in "${required_packages[@]}"; do
        is_installed "$package" || missing+=("$package")
    done
    if ((${#missing[@]} > 0)); then
        echo "$tool: installing ${missing[*]}" >&2
        local as_root=()
        if [[ "$(id -u)" -ne 0 ]]; then
            if ! command -v sudo >/dev/null 2>&1; then
                echo "$tool: need root or sudo to install ${missing[*]}" >&2
                exit 1
            fi
            as_root=(sudo)
        fi
        "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
        "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
    if ! command -v swift >/dev/null 2>&1; then
        echo "$tool: no 'swift' on PATH; install a Swift 6 toolchain first" >&2
        exit 1
    fi
}
