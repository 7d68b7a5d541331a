"""A reply spoken while it is being written: each sentence is synthesized and queued to play as soon
as the text stream completes it, so SEL's voice starts after its first sentence, not its last.

Text goes in with :meth:`SpokenReply.add` (synchronous, from the text stream's loop); one task
synthesizes the sentences in order (Piper in a thread) and puts each clip in the guild's
:class:`SpeakingQueue`. :meth:`stop` is barge-in: no more sentences are made or played.
"""

from __future__ import annotations

import asyncio
import logging

from sel.app import App
from sel.errors import SelError
from sel.frontends.discord.speaking import SpeakingQueue
from sel.frontends.discord.speech_source import SpeechSource
from sel.voice.sentences import SentenceChunker

log = logging.getLogger(__name__)


class SpokenReply:
    """Speaks one reply sentence by sentence as its text arrives. Create it inside the running loop."""

    def __init__(self, app: App, queue: SpeakingQueue) -> None:
        self.app = app
        self.queue = queue
        self.clips = 0  # clips queued so far
        self.stopped = False
        self._chunker = SentenceChunker()
        self._sentences: asyncio.Queue[str | None] = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._speak_all(), name="sel-spoken-reply")

    def add(self, text: str) -> None:
        """More of the reply's text; complete sentences start being spoken at once."""
        if not self.stopped:
            for sentence in self._chunker.add(text):
                self._sentences.put_nowait(sentence)

    def finish(self) -> None:
        """The text is complete: speak what is left, then end (without waiting for it)."""
        if not self.stopped:
            for sentence in self._chunker.finish():
                self._sentences.put_nowait(sentence)
        self._sentences.put_nowait(None)

    def stop(self) -> None:
        """Barge-in or a failed reply: make no more speech and drop the clips not yet played."""
        self.stopped = True
        self._task.cancel()
        self.queue.clear()

    async def done(self) -> None:
        """Wait until every sentence has been made and queued (or the reply was stopped)."""
        await asyncio.wait([self._task])  # never raises: a stopped reply is done too

    async def _speak_all(self) -> None:
        while (sentence := await self._sentences.get()) is not None:
            try:
                speech = await self.app.speak(sentence)
                # Resampling to 48 kHz stereo blocks for a moment per sentence: off the event loop.
                source = await asyncio.to_thread(SpeechSource.from_speech, speech)
            except SelError as err:
                log.warning("could not speak a sentence of a reply: %s", err)
                continue
            if self.stopped:
                return
            try:
                self.queue.put(source)
            except RuntimeError:  # SEL left the channel meanwhile
                return
            self.clips += 1
