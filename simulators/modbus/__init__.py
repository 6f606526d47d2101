"""What the Modbus simulators share: a TCP server lifecycle and RTU slave units on a serial line."""
