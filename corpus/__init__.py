"""The corpus runner: igtools over every IG of ../shared (``nox -s corpus``)."""
