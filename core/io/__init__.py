"""Readers: every kind of file LayerTune opens, behind one protocol (:mod:`core.io.base`).

``video/`` reads videos and frame folders frame-exactly; ``images.py`` reads image sets
(``images/`` + ``masks/``); ``importer.py`` adds what a reader scanned to a project;
``labels_csv.py`` and ``scores_csv.py`` read and write the tables neighbouring tools use.
"""
