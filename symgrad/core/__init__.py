"""The trusted core: SymPy functions, the rule table, verdict types and the kernel.

Nothing here knows of proofs, documents, derivations or rendering. The
kernel (:func:`symgrad.core.kernel.decide`) checks one relation
``lhs REL rhs`` under assumptions and definitions and returns a
:class:`~symgrad.core.verdicts.Verdict`; ``domain``, ``positivity`` and
``budget`` are its helpers.
"""
