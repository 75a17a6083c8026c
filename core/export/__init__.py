"""What leaves PhotoTagger: CSV and JSON tables, and keywords written into photos.

- :mod:`core.export.export`: tag tables for a folder or a selection;
- :mod:`core.export.metadata`: keywords merged into XMP sidecars and JPEGs;
- :mod:`core.export.xmp`, :mod:`core.export.iptc`, :mod:`core.export.jpeg_segments`:
  the formats underneath, read and written without losing what others wrote.
"""
