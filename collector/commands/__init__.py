"""The command path at the centre: signing commands and sending them to the gateways (issue 11)."""
