"""The technician's command line on the gateway (``edge-agent``)."""
