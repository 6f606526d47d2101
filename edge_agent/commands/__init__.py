"""The command path at the gateway: what the agent remembers of the commands it ran (issue 11)."""
