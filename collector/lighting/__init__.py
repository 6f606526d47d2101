"""``collector lighting ...``: program sets signed by the centre and pushed to gateways, rollbacks, and
what each gateway runs."""
