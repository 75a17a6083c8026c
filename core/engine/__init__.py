"""The tagging engine: photos in, tags with scores (and faces) out.

- :mod:`core.engine.sources`: photo references for files, folders and URLs;
- :mod:`core.engine.imaging`: decoding, orientation, huge and broken files;
- :mod:`core.engine.transforms`: preprocessing and the views a backbone sees;
- :mod:`core.engine.backbones`: the registry of backbones and their availability;
- :mod:`core.engine.runtime`, :mod:`core.engine.torch_backend`, :mod:`core.engine.bundle`,
  :mod:`core.engine.cpu_features`: ONNX Runtime on the CPU, torch for GPUs and
  exports, the shipped export and whether int8 pays on this CPU;
- :mod:`core.engine.vocabulary`: ImageNet classes to everyday tags;
- :mod:`core.engine.faces`, :mod:`core.engine.face_encoder`, :mod:`core.engine.people_tags`:
  faces found, embedded, and the people tags read off them;
- :mod:`core.engine.photo_info`: date taken, camera and size from the header;
- :mod:`core.engine.pipeline`: decode, infer and save in batches;
  :mod:`core.engine.cluster` runs the same steps on Ray.

The engine knows nothing of learning, curation, export or people (import-linter
checks it); it hands results to :mod:`core.store`.
"""
