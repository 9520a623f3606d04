"""The operator screen (Textual): thin on purpose. It renders engine state and sends operator
intents through `terminal.payment.api`; it never talks to drivers. `build_app` in `app.py`
builds it; `posterm run` and `posterm demo` start it."""
