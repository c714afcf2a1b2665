"""Concurrency Lab: the web server that runs experiments in child processes and draws them live."""
