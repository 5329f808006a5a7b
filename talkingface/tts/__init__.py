"""The TTS service: ``POST /tts {text, voice?, speed?}`` answers a 16 kHz mono wav, offline (espeak-ng, Piper)."""
