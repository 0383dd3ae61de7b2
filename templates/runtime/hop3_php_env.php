<?php
// hop3 PHP loader, prepended to every script: the app's environment comes from a JSON run file,
// so that no user value is ever written into a uWSGI config file.
(static function (): void {
    $run = json_decode((string) file_get_contents((string) getenv('HOP3_RUN_FILE')), true);
    if (!is_array($run) || !is_array($run['env'] ?? null)) {
        throw new RuntimeException('hop3: the run file (HOP3_RUN_FILE) could not be read');
    }
    foreach ($run['env'] as $key => $value) {
        putenv("$key=$value");
        $_ENV[$key] = $value;
        $_SERVER[$key] = $value;
    }
})();
