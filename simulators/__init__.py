"""The other parties of a payment, simulated: the bank (`bank`), cards and phones (`card`), the
customer's camera feed (`camera`), a receipt printer (`printer`) and `posterm demo`'s whole
simulated world (`demo`).

Installed with posterm's `sim` extra (which brings pyemv for the cards' cryptograms) for tests,
demos, benchmarks and labs. A production terminal never imports this package: `terminal`
loads it only inside the commands that start a simulator (`posterm gateway-sim`, `posterm sim`,
`posterm demo`). Simulators may import `terminal` (protocol messages, codecs, money) and
`drivers`; neither of those imports a simulator at module level.
"""
