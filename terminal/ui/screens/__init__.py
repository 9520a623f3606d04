"""The operator screens: sale, merchant QR, tip, history, transaction, supervisor, end of day,
receipt preview and help."""
