"""The cash-register (ECR) interface: a local HTTP JSON API a till program drives.

    POST   /ecr/v1/payments                {"amount": {...}, "method": ..., "reference": ...}
    GET    /ecr/v1/payments/{id}[?wait=S]  the `posterm pay --json` object plus "state"
    DELETE /ecr/v1/payments/{id}           cancel while it is safe
    POST   /ecr/v1/payments/{id}/refund    {"amount": {...}} or {} for all that is left
    POST   /ecr/v1/payments/{id}/void
    GET    /ecr/v1/totals                  totals since the last batch close
    GET    /ecr/v1/status                  gateway link, queue, whether a payment is running

Every request carries `Authorization: Bearer <ecr.token>`. It is the same engine as the screen
and `posterm pay`.
"""
