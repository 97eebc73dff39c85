"""Renderers: views, escaping, the Jinja environment, terminal and notebook display.

Pure functions of proofs, documents and the reports on them plus templates:
nothing here runs the kernel. ``symgrad.render`` (in :mod:`symgrad.interactive`)
checks first and then renders.
"""
