"""Running posterm as a system service: systemd notifications and the watchdog."""
