"""Receipt printers speaking ESC/POS over a pyserial URL (`/dev/ttyUSB0?baudrate=19200`,
`socket://host:port`, `loop://`), and a fake printer that records what it is sent."""
