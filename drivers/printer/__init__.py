"""Receipt printers speaking ESC/POS over a pyserial URL (`/dev/ttyUSB0?baudrate=19200`,
`socket://host:port`, `loop://`). A fake printer that records what it is sent is a simulator:
`simulators.printer`."""
