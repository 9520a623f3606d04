"""The payment core: transactions, journal, risk rules, store-and-forward, the engine.

Never imports textual: the screen, the CLI and the ECR API use `terminal.payment.api`.
"""
