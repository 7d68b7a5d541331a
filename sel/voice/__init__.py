"""Voice: Piper text-to-speech and faster-whisper speech-to-text, in-process.

Modules, each owning one thing:

- ``intake``: which audio SEL accepts (voice messages, audio/video attachments) and the size/duration limits.
- ``audio``: decoding (PyAV), resampling, Discord's 20 ms PCM frames, ogg/opus encoding, WAV files.
- ``stt``: :class:`~sel.voice.stt.SpeechToText` and :class:`~sel.voice.stt.Transcript`.
- ``tts``: :class:`~sel.voice.tts.TextToSpeech` and :class:`~sel.voice.tts.Speech`.
- ``voice_message``: a Discord voice-message payload (ogg/opus, duration, waveform) made from speech.
- ``source``: the ``discord.AudioSource`` that plays speech (imports discord; only the Discord frontend uses it).
- ``speaking``: a queue that plays replies one after another in a voice channel.
- ``deps``: what is missing for Discord voice, with the fix.
- ``commands``: the ``sel say`` and ``sel transcribe`` subcommands.
- ``bench``: real-time factors and voice-message latency.
- ``wer``: word error rate, for tests and the benchmark.

Nothing heavy is imported here, so ``sel --help`` stays instant.
"""
