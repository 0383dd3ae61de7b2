<?php
// hop3 PHP loader, prepended to every script: the app's environment comes from a JSON run file,
// so that no user value is ever written into a uWSGI config file.
(static function (): void {
    $run = json_decode((string) file_get_contents((string) getenv('HOP3_RUN_FILE')), true);
    if (!is_array($run) || !is_array($run['env'] ?? null)) {
        throw new RuntimeException('hop3: the run file (HOP3_RUN_FILE) could not be read');
    }
    // The app sees its own environment only. uWSGI's own variables stay (as for WSGI apps), and
    // HOP3_RUN_FILE, which the next request in this process reads again.
    foreach (array_keys(getenv()) as $key) {
        $key = (string) $key;
        if (!array_key_exists($key, $run['env']) && $key !== 'HOP3_RUN_FILE' && !str_starts_with($key, 'UWSGI_')) {
            putenv($key);
            unset($_ENV[$key]);
        }
    }
    foreach ($run['env'] as $key => $value) {
        putenv("$key=$value");
        $_ENV[$key] = $value;
        $_SERVER[$key] = $value;
    }
})();
