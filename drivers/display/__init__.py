"""Customer-facing character displays (pole displays) on a pyserial URL."""
