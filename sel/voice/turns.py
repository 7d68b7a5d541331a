"""Turn-taking for one speaker: when an utterance starts, and when it has ended.

A pure state machine over 20 ms chunks of audio, each marked speech or not by the VAD, with the
time passed in (no clock inside). An utterance starts at the first speech chunk (with a little
audio from just before it, so the first syllable is not clipped) and ends once nobody has spoken
for ``end_silence`` seconds. Discord clients stop sending packets when their user falls silent,
so silence is also noticed by :meth:`Segmenter.tick` between packets. Bursts shorter than
``min_speech`` (a cough, a click) are dropped.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TurnSettings:
    """How SEL hears turns; times in seconds."""

    end_silence: float = 0.7  # this much silence ends an utterance
    min_speech: float = 0.25  # shorter bursts of speech are noise, not utterances
    start_speech: float = 0.12  # this much speech means someone has started talking (barge-in)
    max_utterance: float = 30.0  # a monologue is cut here and heard in parts
    preroll_chunks: int = 10  # chunks kept from before the first speech chunk (200 ms at 20 ms each)


@dataclass(frozen=True)
class Utterance:
    """What one person said in one turn: 48 kHz mono 16-bit PCM, its length and how much of it was speech."""

    pcm: bytes
    seconds: float
    voiced_seconds: float


@dataclass
class Segmenter:
    """One speaker's turns. :meth:`feed` each chunk as it arrives; :meth:`tick` now and then between chunks."""

    settings: TurnSettings = field(default_factory=TurnSettings)
    _chunks: list[bytes] = field(default_factory=list)
    _preroll: deque[bytes] = field(default_factory=deque)
    _seconds: float = 0.0
    _voiced: float = 0.0
    _last_voice: float = 0.0
    _announced: bool = False

    @property
    def active(self) -> bool:
        """True while an utterance is under way."""
        return bool(self._chunks)

    def feed(self, chunk: bytes, seconds: float, speech: bool, now: float) -> tuple[bool, Utterance | None]:
        """Take one chunk. Returns (started, ended): ``started`` is True once per utterance, when enough
        speech has been heard to say someone is talking; ``ended`` is the finished utterance, if any."""
        if not self._chunks and not speech:
            self._preroll.append(chunk)
            while len(self._preroll) > self.settings.preroll_chunks:
                self._preroll.popleft()
            return False, None
        if not self._chunks:
            self._chunks, self._seconds = [*self._preroll, chunk], seconds * (len(self._preroll) + 1)
            self._preroll.clear()
        else:
            self._chunks.append(chunk)
            self._seconds += seconds
        if speech:
            self._voiced += seconds
            self._last_voice = now
        started = not self._announced and self._voiced >= self.settings.start_speech
        self._announced = self._announced or started
        if self._seconds >= self.settings.max_utterance:
            return started, self._end()
        return started, self.tick(now)

    def tick(self, now: float) -> Utterance | None:
        """The utterance, if ``end_silence`` has passed since its last speech; else None."""
        if self._chunks and now - self._last_voice >= self.settings.end_silence:
            return self._end()
        return None

    def _end(self) -> Utterance | None:
        chunks, seconds, voiced = self._chunks, self._seconds, self._voiced
        self._chunks, self._seconds, self._voiced, self._announced = [], 0.0, 0.0, False
        if voiced < self.settings.min_speech:
            return None
        return Utterance(b"".join(chunks), round(seconds, 3), round(voiced, 3))
