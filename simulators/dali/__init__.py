"""A Lunatone LUBA RS232 DALI interface with DALI-2/D4i gear on its line, on a pseudo-terminal."""
