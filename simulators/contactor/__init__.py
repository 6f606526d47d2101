"""A street-lighting cabinet's I/O: the mains contactor, its hardware fallback, the door (``sim-cabinet``)."""
