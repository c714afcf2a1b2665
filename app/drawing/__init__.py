"""The drawing layer: a run made visible, as lanes, words, plots and traces, live and finished.

Owns placement on the time axis, the HTML/SVG fragments, the live feed to viewers, the worded
results and the exports. Pure apart from the live feed's tasks. May import only model.
"""
