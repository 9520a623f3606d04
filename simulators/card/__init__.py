"""Simulated cards and phones: the test-card file (`testcards`), the EMV applet that answers a
reader (`applet`) with an ARQC from the test issuer keys (`cryptogram`, pyemv), the card side of
ISO-DEP (`isodep`) and nfcpy's listen mode (`emulator`) that put it in a reader's field, a tap
over nfcpy's UDP front end (`present`), and a tap without any reader (`tap`)."""
