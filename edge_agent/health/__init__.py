"""The agent's own health, reported to the centre as points of device ``_agent`` (so a drop counted at
3 am in a cabinet reaches the control room with the data) and answered locally to ``edge-agent status``."""
