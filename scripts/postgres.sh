# Sourced by scripts/dev and scripts/test: a PostgreSQL cluster from the
# system's binaries, run as a non-root user (postgres refuses to run as root).
#   pg_start DIR PORT   starts (or reuses) a cluster in DIR, exports DATABASE_URL
#   pg_stop             stops the cluster pg_start started

pg_bindir() {
    local dir
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir
        return
    fi
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$dir" ] && echo "$dir"
}

pg_install() {
    if [ -z "$(pg_bindir)" ]; then
        [ "$(id -u)" = 0 ] || { echo "PostgreSQL is not installed; run as root or install postgresql" >&2; return 1; }
        echo "installing PostgreSQL from Debian's packages" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
}

# The user the server runs as: ourselves, or an unprivileged one when root.
pg_user() {
    if [ "$(id -u)" != 0 ]; then id -un; return; fi
    if ! id postgres >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    fi
    echo postgres
}

pg_as() {
    local user=$1; shift
    if [ "$user" = "$(id -un)" ]; then "$@"; else runuser -u "$user" -- "$@"; fi
}

pg_start() {
    local dir=$1 port=$2 bin user
    pg_install || return 1
    bin=$(pg_bindir)
    user=$(pg_user)
    mkdir -p "$dir"
    chown "$user" "$dir"
    chmod 700 "$dir"
    if [ ! -f "$dir/PG_VERSION" ]; then
        pg_as "$user" "$bin/initdb" -D "$dir" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
    fi
    if ! pg_as "$user" "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
        # Durability is not wanted from a throwaway cluster: skip fsyncs.
        pg_as "$user" "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start \
            -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
            >/dev/null || { cat "$dir/server.log" >&2; return 1; }
        PG_STARTED_DIR=$dir
    fi
    PG_USER=$user
    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
}

pg_stop() {
    if [ -n "${PG_STARTED_DIR:-}" ]; then
        pg_as "$PG_USER" "$(pg_bindir)/pg_ctl" -D "$PG_STARTED_DIR" -m fast -w stop >/dev/null 2>&1 || true
        PG_STARTED_DIR=
    fi
}

# A free TCP port on the loopback interface.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
