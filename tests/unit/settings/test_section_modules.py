"""The larger config sections live in modules of their own; `terminal.settings.sections` still
exports every section and marker it exported before, as the same objects."""

from __future__ import annotations

import importlib

import pytest

from terminal.settings import sections

HOMES = {
    "terminal.settings.gateway_section": (
        "SYSTEM_CAS",
        "GatewaySection",
        "Iso8583Section",
        "is_dialect_path",
    ),
    "terminal.settings.qr_section": ("MerchantAccount", "QrSection"),
    "terminal.settings.nexo_section": ("NexoKey", "NexoSection"),
    "terminal.settings.fleet_section": ("FleetSection",),
    "terminal.settings.section_base": ("ConfigPath", "Secret", "PathField", "SecretField"),
}


@pytest.mark.parametrize("home", sorted(HOMES))
def test_sections_exports_the_names_of_each_section_module(home: str) -> None:
    module = importlib.import_module(home)
    for name in HOMES[home]:
        assert name in sections.__all__, name
        assert getattr(sections, name) is getattr(module, name), name


def test_settings_gathers_the_moved_sections() -> None:
    fields = sections.Settings.model_fields
    for key, model in [
        ("gateway", "GatewaySection"),
        ("iso8583", "Iso8583Section"),
        ("qr", "QrSection"),
        ("nexo", "NexoSection"),
        ("fleet", "FleetSection"),
    ]:
        assert fields[key].annotation is getattr(sections, model)


def test_a_moved_section_keeps_its_markers_and_documentation() -> None:
    assert sections.is_secret("fleet", "password")
    assert sections.is_secret("nexo", "keys")  # a list of tables holding a secret
    assert sections.is_marked("nexo", "cert_file", sections.ConfigPath)
    assert sections.is_marked("gateway", "ca_file", sections.ConfigPath)
    assert (
        sections.Settings.model_fields["qr"]
        .annotation.model_fields["merchant_accounts"]
        .description
    )
