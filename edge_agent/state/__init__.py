"""What the agent knows of its devices right now, for the components that look rather than act: the last
value of every point (:mod:`.lastvalues`). Fed by ``edge_agent/poll``; read by the status server and,
later, lighting programs and the control room's questions — never by safety interlocks."""
