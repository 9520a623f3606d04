"""The nexo Terminal API ("Sale to POI" JSON messages): a second door for POS programs.

    POST https://<terminal>:8443/nexo/   {"SaleToPOIRequest": {...}} -> {"SaleToPOIResponse": {...}}

`security` is the shared-key trailer, `amounts` the exact decimal conversion, `messages` the
parsing of requests, `answers` the building of responses from the engine's outcomes, `store`
the ServiceID replay memory and payment results that outlive a restart, `door` what each
message category does with the engine, `server` the HTTPS listener, `certificate` the CA and
server certificate the clients check. It drives the same engine as `/ecr/v1`, through the same
`EcrPayments`, so Busy and the operator screen are shared.
"""
