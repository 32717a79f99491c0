"""Validation of instances against profiles: rules derived from the IR, run by the
runtime engine shipped in generated packages (igtools.runtime.validation)."""
