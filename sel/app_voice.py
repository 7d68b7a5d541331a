"""Hearing and speaking for the App: speech to text, text to speech (sentence by sentence), and who
opted in to being heard in voice channels. Each part loads at first use; all blocking work runs in a thread."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from sel.config import Settings
from sel.config_paths import folder_error

if TYPE_CHECKING:
    from sel.voice.listening_consent import ListeningConsent
    from sel.voice.stt import SpeechToText, Transcript
    from sel.voice.tts import Speech, TextToSpeech


class AppVoice:
    """The App's hearing and speaking: a part of :class:`~sel.app_door.App`, which holds ``settings``."""

    settings: Settings
    _stt: SpeechToText | None = None
    _listen_consent: ListeningConsent | None = None
    _tts: TextToSpeech | None = None

    async def transcribe(self, data: bytes, *, name: str) -> Transcript:
        """What is said in an audio or video file (faster-whisper, in a thread)."""
        return await self._hearing().transcribe_async(data, name=name)

    async def hear(
        self, pcm: bytes, *, rate: int, prompt: str | None = None, hotwords: str | None = None
    ) -> Transcript:
        """What is said in mono 16-bit PCM at ``rate`` Hz (a voice channel turn), in a thread.

        The audio is only read, never kept. ``prompt`` and ``hotwords`` help Whisper spell names
        (see SpeechToText.transcribe_samples).
        """

        def hear() -> Transcript:
            import numpy as np

            from sel.voice import audio

            samples = audio.whisper_samples(np.frombuffer(pcm, dtype=np.int16), rate)
            return self._hearing().transcribe_samples(samples, prompt=prompt, hotwords=hotwords)

        return await asyncio.to_thread(hear)

    def _hearing(self) -> SpeechToText:
        if self._stt is None:
            from sel.voice.stt import SpeechToText

            self._stt = SpeechToText(self.settings.voice)
        return self._stt

    def listens_to(self, user_id: int) -> bool:
        """Whether the person opted in to being heard in voice channels (`listen on`). Never blocks."""
        return self._listening().allows(user_id)

    async def set_listening(self, user_id: int, on: bool) -> None:
        """Record the person's voice opt-in or withdrawal (durably, in a thread)."""
        consent = self._listening()
        try:
            await asyncio.to_thread(consent.set, user_id, on)
        except OSError as err:
            raise folder_error("SEL_DATA_DIR", self.settings.data_dir, err) from None

    def _listening(self) -> ListeningConsent:
        if self._listen_consent is None:
            from sel.voice.listening_consent import ListeningConsent

            self._listen_consent = ListeningConsent.in_folder(self.settings.data_dir)
        return self._listen_consent

    async def speak(self, text: str) -> Speech:
        """``text`` as speech (Piper, in a thread); markup, code and links are not read aloud."""
        from sel.voice.speakable import speakable

        return await self._voice().speak(speakable(text))

    async def speak_sentences(self, text: str) -> AsyncIterator[Speech]:
        """``text`` as speech one sentence at a time, so playback can start after the first."""
        from sel.voice.speakable import speakable_sentences

        voice = self._voice()
        for sentence in speakable_sentences(text):
            yield await voice.speak(sentence)

    def _voice(self) -> TextToSpeech:
        if self._tts is None:
            from sel.voice.tts import TextToSpeech

            self._tts = TextToSpeech.from_settings(self.settings.voice)
        return self._tts
