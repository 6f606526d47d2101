"""Device profiles: reusable point lists (YAML) that a device in the agent's config names, with the
parameters (e.g. DALI channel and short address) that place it in a gateway's register map."""
