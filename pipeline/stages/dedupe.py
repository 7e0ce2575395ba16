"""Near-duplicate detection: a 64-bit SimHash over word bigrams, and story ids shared by
articles whose fingerprints are within a few bits (syndicated copies, light rewrites)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from pipeline.native import native
from pipeline.schema import EnrichedArticle
from pipeline.stages.tokens import fold, split

# Measured on rewrites of 60-word leads: an inserted phrase moves a bigram SimHash by ~7 bits;
# unrelated texts on the same subject (shared vocabulary) were 18+ bits apart (mean 31).
MAX_DISTANCE = 10
MIN_WORDS = 12  # a bare headline says too little to group on
CAPACITY = 100_000  # recent fingerprints compared against; older stories age out
_M1 = 0xFF51AFD7ED558CCD
_M2 = 0xC4CEB9FE1A85EC53
_K = 0x9E3779B97F4A7C15
_P = 0x100000001B3  # FNV's 64-bit prime
_POWERS: Any = None  # numpy arrays of P**i and P**-i, grown on demand (the Python path)
_INVERSES: Any = None


def _mix(x: Any) -> Any:
    """MurmurHash3's 64-bit finaliser, vectorised (uint64 arithmetic wraps)."""
    import numpy as np

    shift = np.uint64(33)
    x = x ^ (x >> shift)
    x = x * np.uint64(_M1)
    x = x ^ (x >> shift)
    x = x * np.uint64(_M2)
    return x ^ (x >> shift)


def _powers(size: int) -> tuple[Any, Any]:
    """P**i and P**-i modulo 2**64 for i < size (P is odd, so it has an inverse)."""
    import numpy as np

    global _POWERS, _INVERSES
    if _POWERS is None or len(_POWERS) < size:
        size = max(size, 2 * (0 if _POWERS is None else len(_POWERS)))
        one = np.ones(1, dtype=np.uint64)
        _POWERS = np.concatenate((one, np.cumprod(np.full(size - 1, _P, dtype=np.uint64))))
        inverse = np.full(size - 1, pow(_P, -1, 2**64), dtype=np.uint64)
        _INVERSES = np.concatenate((one, np.cumprod(inverse)))
    return _POWERS, _INVERSES


def simhash(text: str) -> int | None:
    """SimHash of the text's word bigrams; None when the text is too short to compare. The
    words are the tagger's (split() keeps the last texts, so the body is split once), folded
    together; each word's hash is a polynomial over its UTF-8 bytes. The native module
    hashes in one loop (94 -> 15 µs per corpus article, and no numpy to import), finding the
    words in the text's characters as its split does (join, fold and hash: 74 -> 52 µs
    reading split's parts, -> 35 µs in one pass over the text); numpy does it for all words
    at once without it."""
    parts = split(text)
    if len(parts) // 2 < MIN_WORDS:  # [gap, word, gap, ..., word, gap]: one word per pair
        return None
    if native is not None:
        streamed: int | None = native.simhash_text(text)
        if streamed is not None:
            return streamed
    folded = fold("\x00".join(parts[1::2]))
    if native is not None:
        try:
            fingerprint: int = native.simhash_folded(folded)  # (typed as a plain module)
            return fingerprint
        except UnicodeEncodeError:  # a lone surrogate, which no word holds: never expected
            pass
    return simhash_numpy(folded)


def simhash_numpy(folded: str) -> int:
    """`simhash` of \\x00-joined folded words without the native module."""
    import numpy as np

    data = np.frombuffer(folded.encode("utf-8", "replace"), dtype=np.uint8)
    powers, inverses = _powers(len(data))
    starts = np.concatenate(([0], np.flatnonzero(data == 0) + 1))
    # A word that folds to nothing (a run of Arabic tatweel) at the end leaves a start past
    # the data, which reduceat refuses: it hashes as the empty word does, mix(0), natively too
    empty_last = starts[-1] == len(data)
    if empty_last:
        starts = starts[:-1]
    # sum of byte * P**position over each word (separators are 0 and add nothing), shifted
    # back to the word's own start, so a word hashes the same wherever it stands
    sums = np.add.reduceat(data.astype(np.uint64) * powers[: len(data)], starts)
    hashes = _mix(sums * inverses[starts])
    if empty_last:
        hashes = np.append(hashes, _mix(np.zeros(1, dtype=np.uint64)))
    bigrams = _mix(hashes[:-1] * np.uint64(_K) + hashes[1:])
    bits = np.unpackbits(bigrams.view(np.uint8)).reshape(-1, 64)
    majority = bits.sum(axis=0) * 2 > len(bigrams)
    return int.from_bytes(np.packbits(majority).tobytes(), "big")


class NumpyFingerprints:
    """The native module's Fingerprints in numpy: a ring's fingerprints and the nearest."""

    def __init__(self, capacity: int) -> None:
        import numpy as np

        self._fps = np.zeros(capacity, dtype=np.uint64)

    def set(self, slot: int, fingerprint: int) -> None:
        self._fps[slot] = fingerprint

    def nearest(self, fingerprint: int, size: int) -> tuple[int, int] | None:
        """(slot, distance) of the nearest of the first `size`, the first on a tie."""
        import numpy as np

        if not size:
            return None
        distances = np.bitwise_count(self._fps[:size] ^ np.uint64(fingerprint))
        best = int(np.argmin(distances))
        return best, int(distances[best])


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


class StoryIndex:
    """Story ids, persisted in any mutable mapping article id -> [fingerprint hex, story id]
    (a dict for `mediamon enrich`, a Faust table in the worker, so grouping survives
    restarts). The newest CAPACITY fingerprints are compared in one pass (native, or numpy)."""

    def __init__(self, store: MutableMapping[str, list[str]], capacity: int = CAPACITY) -> None:
        self.store = store
        self._fps = native.Fingerprints(capacity) if native else NumpyFingerprints(capacity)
        # The ring's stories and ids grow as it fills (then turns): made whole, two lists
        # of 100,000 empty strs were ~400 of `mediamon enrich`'s page faults, for the few
        # thousand articles of a run.
        self._capacity = capacity
        self._stories: list[str] = []
        self._ids: list[str] = []
        self._size = 0
        self._next = 0
        for article_id, (fp_hex, story) in list(store.items()):
            self._remember(article_id, int(fp_hex, 16), story, evict=False)

    def _remember(self, article_id: str, fingerprint: int, story: str, evict: bool) -> None:
        slot = self._next
        self._fps.set(slot, fingerprint)
        if slot == len(self._ids):  # the ring is filling
            self._stories.append(story)
            self._ids.append(article_id)
        else:
            old = self._ids[slot]
            if evict and old and old in self.store:
                del self.store[old]
            self._stories[slot] = story
            self._ids[slot] = article_id
        self._next = (slot + 1) % self._capacity
        self._size = min(self._size + 1, self._capacity)

    def assign(self, article_id: str, fingerprint: int | None) -> str:
        if fingerprint is None:
            return article_id
        known = self.store.get(article_id)
        if known:
            return known[1]  # a re-delivery or an update stays in its story
        story = article_id
        nearest = self._fps.nearest(fingerprint, self._size)
        if nearest is not None and nearest[1] <= MAX_DISTANCE:
            story = self._stories[nearest[0]]
        self.store[article_id] = [f"{fingerprint:016x}", story]
        self._remember(article_id, fingerprint, story, evict=True)
        return story


def assign_story(article: EnrichedArticle, stories: StoryIndex) -> EnrichedArticle:
    """`article` with its story id from `stories` (the worker's group stage)."""
    fingerprint = int(article.fingerprint, 16) if article.fingerprint else None
    return article.model_copy(update={"story_id": stories.assign(article.id, fingerprint)})
