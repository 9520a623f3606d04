"""EMV contactless: BER-TLV codec and the kernel that reads a card through `transceive`.

Never imports nfcpy: the kernel is written against `drivers.base.Card`.
"""
