# Sourced by scripts/dev and scripts/test: a PostgreSQL cluster from the
# system's binaries, run as a non-root user (postgres refuses to run as root).
#   pg_start DIR PORT   starts (or reuses) a cluster in DIR, exports DATABASE_URL
#   pg_stop             stops the cluster pg_start started
#   pg_start_tls DIR PORT CERTS   the same with ssl = on, serving
#                       CERTS/server.crt and CERTS/server.key
#   PG_OPTS             extra server options for pg_start

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
            -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off ${PG_OPTS:-}" \
            >/dev/null || { cat "$dir/server.log" >&2; return 1; }
        PG_STARTED_DIR=$dir
    fi
    PG_USER=$user
    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
}

pg_start_tls() {
    local dir=$1 port=$2 certs=$3 user
    user=$(pg_user)
    # The server reads its key only when it owns it, mode 0600.
    mkdir -p "$dir.tls"
    cp "$certs/server.crt" "$certs/server.key" "$dir.tls/"
    chown -R "$user" "$dir.tls"
    chmod 700 "$dir.tls"
    chmod 600 "$dir.tls/server.key"
    PG_OPTS="${PG_OPTS:-} -c ssl=on -c ssl_cert_file=$dir.tls/server.crt -c ssl_key_file=$dir.tls/server.key" \
        pg_start "$dir" "$port"
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

# PgBouncer in transaction mode (what Neon's pooler runs) in front of the
# server at DATABASE_URL, as the same unprivileged user:
#   pgb_start DIR PORT   starts it, exports POOLER_URL and POOLER_ADMIN_URL
#   pgb_stop             stops it
#   PGB_BIN              the binary: by default the PgBouncer 1.24.1 that
#                        scripts/install-tools builds, else the system's
#   PGB_MAX_PREPARED_STATEMENTS  protocol-level prepared statements kept per
#                        server connection (1.21 and later; 0 turns them
#                        off); by default 1000, as Neon's pooler has them on
pgb_start() {
    local dir=$1 port=$2 user upstream bin prepared=""
    user=$(pg_user)
    bin=${PGB_BIN:-$(dirname "${BASH_SOURCE[0]}")/../.local/pgbouncer-1.24.1/pgbouncer}
    [ -x "$bin" ] || bin=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
    # 1.18 refuses a setting it does not know.
    case $("$bin" --version) in
        "PgBouncer 1.1"* | "PgBouncer 1.20"*) ;;
        *) prepared="max_prepared_statements = ${PGB_MAX_PREPARED_STATEMENTS:-1000}" ;;
    esac
    mkdir -p "$dir"
    # A copy beside its configuration: the user it runs as may not be
    # allowed into the checkout.
    cp "$bin" "$dir/pgbouncer"
    # Every database name is forwarded, with the upstream's credentials
    # (tests create a database each).
    upstream=$(python3 - "$DATABASE_URL" <<'PY'
import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
parts = [f"host={p.hostname or '127.0.0.1'}", f"port={p.port or 5432}", f"user={p.username or 'postgres'}"]
if p.password:
    parts.append(f"password={u.unquote(p.password)}")
print(" ".join(parts))
PY
)
    cat > "$dir/pgbouncer.ini" <<INI
[databases]
* = $upstream

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = any
pool_mode = transaction
max_client_conn = 2000
default_pool_size = 20
ignore_startup_parameters = extra_float_digits,application_name,options
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
$prepared
INI
    chown -R "$user" "$dir"
    chmod 700 "$dir"
    pg_as "$user" "$dir/pgbouncer" -d "$dir/pgbouncer.ini" \
        || { cat "$dir/pgbouncer.log" >&2; return 1; }
    PGB_DIR=$dir
    export POOLER_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
    # Its admin console (SHOW STATS, …).
    export POOLER_ADMIN_URL="postgres://postgres@127.0.0.1:$port/pgbouncer?sslmode=disable"
    # Ready when it accepts connections.
    for _ in $(seq 50); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "PgBouncer did not start" >&2; cat "$dir/pgbouncer.log" >&2; return 1
}

pgb_stop() {
    if [ -n "${PGB_DIR:-}" ] && [ -f "$PGB_DIR/pgbouncer.pid" ]; then
        kill "$(cat "$PGB_DIR/pgbouncer.pid")" 2>/dev/null || true
        PGB_DIR=
    fi
}
