"""Curating an album: near-duplicates, visual groups, technical quality and highlights.

- :mod:`core.curation.curate`: picks, the album's embeddings, acting on results;
- :mod:`core.curation.quality`: sharpness, exposure, noise and a perceptual hash;
- :mod:`core.curation.dupes`: near-duplicates and bursts, with a keeper each;
- :mod:`core.curation.groups`: visual groups a person can name;
- :mod:`core.curation.highlights`: the best N photos that are also different.
"""
