"""The running layer: the lab that admits, limits, starts and supervises runs.

Owns a run's life from request to end: the fair-use limits, the FIFO queue, the runner
interpreters (and which Python), the supervisor that streams a runner's events into its run
and ends it with the right status. May import storage, drawing and model; never web.
"""
