"""Code that runs inside generated packages as well as inside igtools.

Modules here import nothing from igtools: the models renderer copies them verbatim into
every generated package, so that generated models need only fhir.resources and
fhirpathpy at run time.
"""
