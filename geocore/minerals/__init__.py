"""Ore minerals on reflected-light photographs of polished sections.

Class table (:mod:`.classes`), LumenStone reader (:mod:`.lumenstone`),
synthetic sections (:mod:`.synthetic`), class-balanced sampling
(:mod:`.sampler`), training (:mod:`.train`), metrics (:mod:`.metrics`),
segmentation of photos and panoramas (:mod:`.segment`) and mineral
statistics (:mod:`.stats`).
"""
