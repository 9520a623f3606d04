"""Keys, JOSE, PAN masking and fingerprinting, the audit log: everything that guards secrets."""
