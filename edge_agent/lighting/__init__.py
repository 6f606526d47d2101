"""The street lighting the gateway runs by itself: the installed program set, overrides, and the
runner that turns them into level commands through the command path."""
