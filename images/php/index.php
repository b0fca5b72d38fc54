<?php
// The page of swarm-php:1, the seed's stand-in web application (scripts/seed-images). Every request connects to
// PostgreSQL on DB_HOST (default `psql`, the seed's database service) as DB_USER / DB_PASSWORD (defaults match the
// seed's `POSTGRES_PASSWORD=mypass`: user postgres, password mypass) to DB_NAME (default: DB_USER), creates the
// `visits` table if missing, records this visit and answers in plain text, one `name: value` a line:
//   served by: <this container's hostname>        client: <the client address Apache sees>
//   database: <user@host:port/name> (<server version>)
//   visit: <this visit's number>                   visits: <total>   containers: <distinct serving containers>
// then the latest visits. Without the database it answers 503 with the reason, so a 200 always carries its data.

header('Content-Type: text/plain; charset=utf-8');
ini_set('html_errors', '0');

function setting(string $name, string $default): string
{
    $value = getenv($name);
    return ($value === false || $value === '') ? $default : $value;
}

// A libpq connection string value, quoted so that spaces and quotes survive.
function conninfo_value(string $value): string
{
    return "'" . addcslashes($value, "'\\") . "'";
}

function fail(int $status, string $reason)
{
    http_response_code($status);
    echo "error: $reason\n";
    exit;
}

function query($db, string $sql, array $params = [])
{
    $result = @pg_query_params($db, $sql, $params);
    if ($result === false) {
        fail(500, 'query failed: ' . pg_last_error($db));
    }
    return $result;
}

$host = setting('DB_HOST', 'psql');
$port = setting('DB_PORT', '5432');
$user = setting('DB_USER', 'postgres');
$password = setting('DB_PASSWORD', 'mypass');
$name = setting('DB_NAME', $user);
$served_by = gethostname();
$client = $_SERVER['REMOTE_ADDR'] ?? '';

echo "served by: $served_by\n";
echo "client: $client\n";

$conninfo = implode(' ', [
    'host=' . conninfo_value($host),
    'port=' . conninfo_value($port),
    'user=' . conninfo_value($user),
    'password=' . conninfo_value($password),
    'dbname=' . conninfo_value($name),
    'connect_timeout=5',
]);
$db = @pg_connect($conninfo, PGSQL_CONNECT_FORCE_NEW);
if ($db === false) {
    $reason = error_get_last()['message'] ?? 'unknown reason';
    fail(503, "cannot connect to $user@$host:$port/$name: $reason");
}
$version = pg_parameter_status($db, 'server_version');
echo "database: $user@$host:$port/$name (PostgreSQL $version)\n";

// Replicas starting together race to create the table: the advisory lock makes them take turns.
query($db, 'BEGIN');
query($db, 'SELECT pg_advisory_xact_lock(1668509029)');
query($db, 'CREATE TABLE IF NOT EXISTS visits (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    client text NOT NULL,
    served_by text NOT NULL
)');
query($db, 'COMMIT');

$visit = pg_fetch_result(
    query($db, 'INSERT INTO visits (client, served_by) VALUES ($1, $2) RETURNING id', [$client, $served_by]),
    0,
    0
);
$totals = pg_fetch_row(query($db, 'SELECT count(*), count(DISTINCT served_by) FROM visits'));
echo "visit: $visit\n";
echo "visits: $totals[0]\n";
echo "containers: $totals[1]\n";
echo "latest visits:\n";
$latest = query($db, "SELECT id, to_char(at, 'YYYY-MM-DD\"T\"HH24:MI:SS.MSOF'), client, served_by
    FROM visits ORDER BY id DESC LIMIT 5");
while ($row = pg_fetch_row($latest)) {
    echo "  #$row[0] at $row[1] from $row[2] served by $row[3]\n";
}
pg_close($db);
