"""Dynamical mean-field theory (DMFT) of feature learning, Bordelon & Pehlevan (NeurIPS 2022).

Private package; the public names are re-exported by :mod:`lazyrich.theory`.
"""
