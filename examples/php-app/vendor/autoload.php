<?php
// What composer's generated autoloader does for this app, written by hand (hop3 does not run
// composer): PSR-4 prefixes to directories.
declare(strict_types=1);

spl_autoload_register(static function (string $class): void {
    $prefixes = ['Hop3\\Greet\\' => __DIR__ . '/hop3/greet/src/'];
    foreach ($prefixes as $prefix => $dir) {
        if (str_starts_with($class, $prefix)) {
            $file = $dir . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
            if (is_file($file)) {
                require $file;
            }
            return;
        }
    }
});
