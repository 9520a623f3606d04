"""The ISO 8583 acquirer link (issue 15): a dialect as data, the codec, the message builders,
the STAN, the stored-bytes vault, the TCP/TLS link and the adapter behind the bank port."""
