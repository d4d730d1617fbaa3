"""The povsim dashboard: the model in a browser, on Mesa's Solara visualisation.

``povsim dashboard [--port P]`` serves one page (:mod:`povsim.dashboard.app`) with sliders for
the main policy levers and live plots of poor people against the NBS survey and the 2020 target,
registry exits by channel, and relapse (返贫). Moving a lever rebuilds the model from 2014 with
the new values; *Step* simulates one year and the plots follow.

- :mod:`povsim.dashboard.levers`: what each lever sets in the model, and :class:`Simulation`,
  one run stepped a year at a time (no browser or Solara needed, so it is tested directly);
- :mod:`povsim.dashboard.figures`: the three matplotlib figures;
- :mod:`povsim.dashboard.app`: the Solara page;
- :mod:`povsim.dashboard.cli`: the ``povsim dashboard`` command.
"""
