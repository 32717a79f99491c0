"""`igtools docs`: the MkDocs site of an IG (artefact pages, converted narrative pages)."""
