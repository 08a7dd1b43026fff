"""What the admin runs: start-up checks, and (as the tree moves) backup, restore, link, status."""
