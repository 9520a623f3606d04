"""Errors of the fleet package.

FleetError                      base (exit 3: the broker or the network)
├── BrokerRefused               the broker refused the connection (credentials, ACL, TLS)
└── FleetUsage                  a fleet command asked for something impossible (exit 2)
"""

from __future__ import annotations

from terminal.errors import PostermError


class FleetError(PostermError):
    """Base of the fleet package's errors."""

    exit_code = 3


class BrokerRefused(FleetError):
    """The broker could not be reached or refused us; the sentence says which and why."""


class FleetUsage(FleetError):
    """The command line or the configuration does not allow the fleet command."""

    exit_code = 2
