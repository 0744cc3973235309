# Sourced by the benchmarks that compare Cairn with PostgreSQL
# (tools/rpc-bench, tools/write-bench), after tools/lib/system-packages.sh:
# the Debian packages they need, and a throwaway cluster on a Unix socket
# only, in the benchmark's own work dir, started and stopped by it.
#
#   ensure_postgres_packages TOOL
#       installs postgresql (the server and pgbench) and python3-psycopg2
#       when missing; returns 1, after a note, when they cannot be had
#   pg_start DIR LIFETIME [-c NAME=VALUE]...
#       initdb in DIR/data, then postgres on a socket in DIR and no TCP,
#       under `timeout LIFETIME`, with the given settings (as nobody when run
#       as root: DIR's parents must let nobody through); waits until it
#       answers. Sets pgbin, pgsock, pgdata, pg_launcher, pg_version and psql
#       (psql on that socket as the superuser bench); logs in DIR/*.log
#   pg_stop
#       stops the cluster if pg_start started one (for the exit trap)

pg_launcher=""

ensure_postgres_packages() {
    local tool="$1" missing=() package as_root=()
    for package in postgresql python3-psycopg2; do is_installed "$package" || missing+=("$package"); done
    ((${#missing[@]} > 0)) || return 0
    echo "$tool: installing ${missing[*]}" >&2
    if [[ "$(id -u)" -ne 0 ]]; then as_root=(sudo); fi
    if ! { "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
        { "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 &&
            "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; }; }; then
        echo "$tool: could not install ${missing[*]}: no PostgreSQL rows" >&2
        return 1
    fi
}

pg_start() {
    local dir="$1" lifetime="$2" as_pg=()
    shift 2
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    pgsock=$dir pgdata=$dir/data
    mkdir -p "$pgsock"
    if [[ "$(id -u)" -eq 0 ]]; then
        as_pg=(runuser -u nobody --)
        chown nobody "$pgsock"
    fi
    (cd "$pgsock" && "${as_pg[@]}" "$pgbin/initdb" -D "$pgdata" -U bench --auth=trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1) ||
        { cat "$dir/initdb.log" >&2; exit 1; }
    (cd "$pgsock" && exec "${as_pg[@]}" timeout --signal=INT "$lifetime" "$pgbin/postgres" -D "$pgdata" \
        -c listen_addresses= -c unix_socket_directories="$pgsock" "$@" >"$dir/postgres.log" 2>&1) &
    pg_launcher=$!
    for _ in $(seq 200); do "$pgbin/pg_isready" -q -h "$pgsock" -U bench -d postgres && break; sleep 0.05; done
    "$pgbin/pg_isready" -q -h "$pgsock" -U bench -d postgres || { cat "$dir/postgres.log" >&2; exit 1; }
    psql=("$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h "$pgsock" -U bench)
    pg_version=$("$pgbin/postgres" --version | awk '{print $3}')
}

pg_stop() {
    [[ -n $pg_launcher ]] || return 0
    if [[ -f $pgdata/postmaster.pid ]]; then kill -INT "$(head -1 "$pgdata/postmaster.pid")" 2>/dev/null || true; fi
    wait "$pg_launcher" 2>/dev/null || true
    pg_launcher=""
}
