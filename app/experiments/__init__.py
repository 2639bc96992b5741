"""The experiments board (issue 10): one-click experiments, their queue, the results.

* :mod:`.board` -- the board window of one task (start, queue progress, live curves);
* :mod:`.board_results` -- its result tabs; :mod:`.result_figure` the overlaid ROC /
  FROC / box plots with 95 % CIs; :mod:`.tables` the per-run and pairwise tables;
  :mod:`.budget` the label-budget curve; :mod:`.layer_inspector` the layer-change stack;
* :mod:`.flips` flip review, :mod:`.disagreement` the disagreement queue (data:
  :mod:`.review_data`); :mod:`.leakage` the warning before a run;
* :mod:`.api`, :mod:`.evidence`, :mod:`.progress` -- the door into ``core``.

The main window wires it through :mod:`app.window_experiments`.
"""
