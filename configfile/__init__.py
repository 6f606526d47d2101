"""Reading a YAML config file, shared by both services (the agent's config and profiles, the collector's
config): one loader that refuses a key given twice. The models that check what the file says stay with
each service."""
