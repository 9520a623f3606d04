"""The bank gateway: protocol v1 messages, JOSE, the HTTPS client and the gateway simulator."""
