"""Stage 3, stubs: server and client packages from the CapabilityStatements (in progress).

``plan.py`` turns the IR's capability statements, the search-parameter definitions and
the project's overlay into an API plan that the server and client renderers read.
"""
