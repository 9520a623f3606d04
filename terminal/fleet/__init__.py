"""A terminal as one of a fleet: live status and events published to an MQTT broker, read by
the technician's `posterm fleet` commands (docs/fleet.md).

The MQTT client library (paho-mqtt) is imported only when `[fleet] enabled` or a `fleet`
command needs it, so a terminal without a fleet never loads it. Nothing here takes part in a
payment: the reporter reads the engine's public API (queue, link, history) and never writes.
"""
