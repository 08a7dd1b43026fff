"""What the admin runs by hand: the start-up check, backup and restore, linking, status, the
demo, the failure notice systemd sends."""
