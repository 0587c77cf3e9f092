"""Custom Components v2 of the dashboard (inline HTML/CSS/JS: no iframe, no network)."""
