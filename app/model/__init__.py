"""The model layer: what a run is.

Owns the experiment catalogue, the wire events a runner sends, their fold into a timeline, a
run's record (status, conditions, CPU budget, findings). Pure: no I/O, imports no other layer.
"""
