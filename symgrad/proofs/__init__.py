"""Proofs and documents: calc chains, reports, document blocks.

They sit directly above the kernel: :meth:`Proof.check` calls down into
:func:`symgrad.core.kernel.decide`, one link at a time.
"""
