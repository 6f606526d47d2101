"""Street lighting that runs itself: the program-set model (calendars, programs, assignments; after TALQ
2.7), which program a night runs and the level wanted at a moment. Pure computation, shared by the
agent, which runs a set, and the collector, which validates and pushes one."""
