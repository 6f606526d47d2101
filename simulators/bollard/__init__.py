"""A retractable-bollard access site on Modbus TCP (devices.md §5.3)."""
