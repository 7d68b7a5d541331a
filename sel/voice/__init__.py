"""Voice: Piper text-to-speech and faster-whisper speech-to-text, in-process.

Modules, each owning one thing:

- ``intake``: which audio SEL accepts (voice messages, audio/video attachments) and the size/duration limits.
- ``audio``: decoding (PyAV), resampling, 48 kHz stereo PCM in 20 ms frames, ogg/opus encoding, WAV files.
- ``stt``: :class:`~sel.voice.stt.SpeechToText` and :class:`~sel.voice.stt.Transcript`.
- ``tts``: :class:`~sel.voice.tts.TextToSpeech` and :class:`~sel.voice.tts.Speech`.
- ``voice_message``: a Discord voice-message payload (ogg/opus, duration, waveform) made from speech.
- ``commands``: the ``sel say`` and ``sel transcribe`` subcommands.
- ``bench``: real-time factors and voice-message latency.
- ``wer``: word error rate, for tests and the benchmark.

Nothing heavy is imported here, so ``sel --help`` stays instant.
"""
