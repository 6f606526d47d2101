"""What each host installs (pyproject extras)."""
