"""Learning from the user's decisions: refinement, heads, learned versions, comparisons.

- :mod:`core.learning.refine`: evidence from decisions and neighbour propagation;
- :mod:`core.learning.heads`: heads fitted on frozen embeddings (numpy and scipy);
- :mod:`core.learning.gate`: per tag, whether held-out evidence lets a learned score speak;
- :mod:`core.learning.learned`: learned versions, and their suggestions after every tagging run;
- :mod:`core.learning.compare`: the same labelled photos through every backbone;
- :mod:`core.learning.metrics`: average precision, F1 and thresholds from scikit-learn;
- :mod:`core.learning.review`: a photo's tags as a person sees them, suggestions and decisions merged;
- :mod:`core.learning.labels`: tags given elsewhere (a CSV, embedded keywords) imported as decisions.

Nothing here imports torch: learning runs on the CPU tagging path.
"""
