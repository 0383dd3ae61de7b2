<?php
declare(strict_types=1);

namespace Hop3\Greet;

/** A vendored library, as `composer install` would have put it under vendor/. */
final class Greeter
{
    public const VERSION = '1.0.0';

    public function greet(): string
    {
        return 'greeted by hop3/greet ' . self::VERSION;
    }
}
