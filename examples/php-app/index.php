<?php
// The front controller: every path that names no .php file of the app comes here.
declare(strict_types=1);

require __DIR__ . '/vendor/autoload.php';

use Hop3\Greet\Greeter;

$h = static fn (string $s): string => htmlspecialchars($s, ENT_QUOTES);
$path = (string) parse_url((string) ($_SERVER['REQUEST_URI'] ?? '/'), PHP_URL_PATH);
header('Content-Type: text/html; charset=utf-8');
echo '<h1>Hello from ', $h((string) getenv('HOP3_APP')), ' ', $h((string) getenv('HOP3_RELEASE')), ' on PHP ', PHP_VERSION, "</h1>\n";
echo '<p>You asked for ', $h($path), "</p>\n";
echo '<p>', $h((new Greeter())->greet()), "</p>\n";
