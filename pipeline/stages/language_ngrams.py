"""py3langid's identifier with its n-gram walk in the native module (native/src/ngrams.rs),
imported with py3langid (language.py loads both with the first text CLD2 cannot settle).
language.py scores natively where it can (native/src/nbscore.rs, no numpy); this is its
numpy path where the native scorer cannot load, and what the tests compare it with."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from py3langid.langid import RAW_FLOOR, LanguageIdentifier

if TYPE_CHECKING:
    import numpy.typing as npt

    from pipeline._native import NgramWalk


class NativeWalkIdentifier(LanguageIdentifier):  # type: ignore[misc]
    """py3langid's scores (its _decide, _sparse_score, numpy's sums: the same floats), with
    the features counted natively: Python's walk of ~1,000 bytes took 0.2-0.5 ms of the
    0.5-1 ms a paragraph's scores cost (69 of the corpus's 2,400 articles need them), and
    building its per-state row offsets 8 ms of loading the model. The walk holds the
    automaton, so py3langid's own tables stay empty."""

    __slots__ = ("_walk",)

    def __init__(
        self,
        walk: NgramWalk,
        nb_ptc: npt.NDArray[Any],
        nb_pc: npt.NDArray[Any],
        nb_classes: list[str],
    ) -> None:
        super().__init__(nb_ptc, nb_pc, nb_classes, [], [], norm_probs=True, tk_row=[])
        self._walk = walk

    def _raw_score(self, text: bytes) -> npt.NDArray[Any]:
        """LanguageIdentifier._raw_score, counting with the native walk."""
        visits = self._walk.counts(text)
        if visits:
            score: npt.NDArray[Any] = self._sparse_score(visits, self.nb_ptc)
            return score
        fill = 0.0 if self._norm_probs else RAW_FLOOR
        return np.full(len(self.nb_classes), fill, dtype=np.float32)
