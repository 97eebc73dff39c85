"""Producers of steps: the table of derivative rules, ``derive``, the chain rule and graphs.

Everything here builds :class:`~symgrad.proofs.proof.Proof` objects that the
kernel checks; nothing here decides whether a step holds.
"""
