"""Hardware adapters. Each device is opened from a config string (a "device URL") and has a
simulator selectable the same way. Nothing here imports `terminal`, `textual` or `httpx`."""
