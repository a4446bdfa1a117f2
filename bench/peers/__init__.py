"""Peer comparison: sensorkit's lower-back pipeline next to scikit-digital-health and GaitPy.

``python -m bench.peers`` builds each peer's own virtualenv under ``bench/.peers/`` (ignored
by git; never part of sensorkit's dependencies), feeds every tool the same lower-back
recordings and scores all of them with ``sensorkit.validation`` against the same truth.
"""
