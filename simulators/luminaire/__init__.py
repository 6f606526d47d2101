"""A DALI-to-Modbus gateway with a bank of luminaires, over Modbus TCP or RTU (devices.md §5.1)."""
