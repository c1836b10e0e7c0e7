"""Analysis steps on a project: load, run, write outputs, summarise in Chinese.

Each step module takes a :class:`landuse.io.ProjectData`, calls one library
analysis with the project's options, writes its outputs and returns the
headline lines; :mod:`landuse.pipeline.run` registers the steps and runs one
on a project; ``landuse demo`` runs every step on the sample.

Names are loaded on first use (lazy_loader, from ``__init__.pyi``): a command
imports only the steps it runs, not the map and report stack.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
