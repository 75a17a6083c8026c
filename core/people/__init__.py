"""People: faces grouped by who they are, named by the user, learning from yes and from no.

- the people tables (faces' persons, persons, rejections) are the store's: ``Store.people``.
- :mod:`core.people.groups`: suggestions for new faces and groups of the unnamed.
- :mod:`core.people.naming`: naming, merging, confirming and rejecting; forgetting.
- :mod:`core.people.regions`: named face regions for the photos' metadata.

Embeddings themselves are made while tagging (:mod:`core.engine.face_encoder`).
"""
