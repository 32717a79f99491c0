"""Generic FHIR R4 knowledge igtools ships with (loaded with importlib.resources)."""
