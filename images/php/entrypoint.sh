#!/bin/sh
# Entrypoint of swarm-php:1, the seed's stand-in web application (scripts/seed-images): Apache with mod_php in the
# foreground on port 80 serving images/php/index.php, its access log (client address first) on stdout and its error
# log on stderr, so `docker logs` of a task shows who connected. The page's settings (DB_HOST, DB_PORT, DB_USER,
# DB_PASSWORD, DB_NAME) come from the environment. SIGTERM stops Apache at once. Arguments: a command to run
# instead of Apache.
# shellcheck disable=SC1091 # Debian's apache2 package: APACHE_RUN_DIR, APACHE_LOCK_DIR, APACHE_LOG_DIR, ...
. /etc/apache2/envvars
set -eu
mkdir -p "$APACHE_RUN_DIR" "$APACHE_LOCK_DIR" "$APACHE_LOG_DIR"
rm -f "$APACHE_PID_FILE"
if [ "$#" -gt 0 ]; then
  exec "$@"
fi
exec apache2 -DFOREGROUND
