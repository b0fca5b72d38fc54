#!/bin/sh
# Entrypoint of swarm-postgres:1, the seed's stand-in for the official `postgres` image (scripts/seed-images), with
# the same settings for what the seed uses:
#   POSTGRES_PASSWORD          the superuser's password; required unless POSTGRES_HOST_AUTH_METHOD=trust
#   POSTGRES_USER              the superuser (default postgres)
#   POSTGRES_DB                a database created on first start (default: POSTGRES_USER)
#   POSTGRES_HOST_AUTH_METHOD  the authentication of TCP connections (default scram-sha-256)
#   POSTGRES_INITDB_ARGS       more arguments for initdb
#   PGDATA                     the data directory (default /var/lib/postgresql/data)
# On first start (no PG_VERSION in PGDATA) it creates the cluster, listening on every address with password
# authentication from any address (local socket connections are trusted), creates the database and runs
# /docker-entrypoint-initdb.d/*.sh, *.sql and *.sql.gz in name order against it. The server then runs in the
# foreground as the `postgres` user; SIGTERM or SIGINT stop it with a fast shutdown (open sessions are ended, the
# data is checkpointed), so `docker stop` ends it cleanly. Arguments: `postgres [OPTION...]` or just options
# (passed to the server), or any other command, run as is.
set -eu

for bin in /usr/lib/postgresql/*/bin; do
  PATH="$bin:$PATH"
done
export PATH
PGDATA="${PGDATA:-/var/lib/postgresql/data}"
export PGDATA

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
  set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
  exec "$@"
fi
shift

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  find "$PGDATA" /var/run/postgresql ! -user postgres -exec chown postgres:postgres '{}' +
  chmod 0700 "$PGDATA"
  chmod 2775 /var/run/postgresql
  HOME=/var/lib/postgresql exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" postgres "$@"
fi

say() { echo "swarm-postgres: $*"; }

initialise() {
  user="${POSTGRES_USER:-postgres}"
  database="${POSTGRES_DB:-$user}"
  auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  password="${POSTGRES_PASSWORD:-}"
  if [ -z "$password" ] && [ "$auth" != trust ]; then
    cat >&2 <<'MESSAGE'
swarm-postgres: error: the database is uninitialised and the superuser password is not set.
  Set POSTGRES_PASSWORD to a non-empty value for the superuser (`-e POSTGRES_PASSWORD=...`), or set
  POSTGRES_HOST_AUTH_METHOD=trust to let anyone connect without a password (never outside a test).
MESSAGE
    exit 1
  fi

  say "initialising $PGDATA (superuser $user, database $database, host authentication $auth)"
  pwfile=""
  if [ -n "$password" ]; then
    pwfile=$(mktemp)
    printf '%s\n' "$password" >"$pwfile"
  fi
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS holds several words
  initdb --username="$user" --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host="$auth" \
    ${pwfile:+--pwfile="$pwfile"} ${POSTGRES_INITDB_ARGS:-} >/dev/null
  if [ -n "$pwfile" ]; then
    rm -f "$pwfile"
  fi
  printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
  printf 'host all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"

  # Setup runs on a server reachable only through the local socket.
  pg_ctl --silent --wait --options="-c listen_addresses=''" start
  run_sql() { psql --no-psqlrc --quiet -v ON_ERROR_STOP=1 --username="$user" "$@"; }
  # psql interpolates variables in what it reads, not in --command.
  exists=$(printf "SELECT 1 FROM pg_database WHERE datname = :'name';\n" \
    | run_sql --dbname=postgres --tuples-only --no-align --set=name="$database")
  if [ -z "$exists" ]; then
    printf 'CREATE DATABASE :"name";\n' | run_sql --dbname=postgres --set=name="$database"
  fi
  for file in /docker-entrypoint-initdb.d/*; do
    case "$file" in
      *.sh)
        say "running $file"
        # shellcheck disable=SC1090 # the user's scripts
        if [ -x "$file" ]; then "$file"; else . "$file"; fi
        ;;
      *.sql)
        say "running $file"
        run_sql --dbname="$database" --file="$file"
        ;;
      *.sql.gz)
        say "running $file"
        gunzip -c "$file" | run_sql --dbname="$database"
        ;;
      */\*) ;;
      *) say "ignoring $file" ;;
    esac
  done
  pg_ctl --silent --wait --mode=fast stop
  say "initialisation complete"
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  initialise
fi
unset POSTGRES_PASSWORD

# The server runs as a child: PID 1's shell turns SIGTERM (what `docker stop` sends; a docker-imported image cannot
# name another stop signal) into SIGINT, the server's fast shutdown. Its smart shutdown, what SIGTERM asks for,
# would wait for every client to disconnect.
postgres "$@" &
server=$!
trap 'kill -INT "$server" 2>/dev/null || true' TERM INT
trap 'kill -QUIT "$server" 2>/dev/null || true' QUIT
while :; do
  status=0
  wait "$server" || status=$?
  # A trapped signal interrupts `wait` while the server still runs: wait again for its real exit status.
  if ! kill -0 "$server" 2>/dev/null; then
    exit "$status"
  fi
done
