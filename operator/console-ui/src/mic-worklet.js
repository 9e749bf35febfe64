// AudioWorklet: the microphone's samples as 16 kHz mono and sent to the page as
// PCM16 little-endian chunks of about 100 ms (the recognizer's /v1/stream format).
const TARGET_RATE = 16000;
const CHUNK = 1600;

class Pcm16Capture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / TARGET_RATE;
    this.position = 0;
    this.buffer = new Int16Array(CHUNK);
    this.filled = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    // The page asks for a 16 kHz AudioContext, so Chromium resamples the microphone and the
    // step is 1; another rate falls back to picking the nearest sample.
    while (this.position < channel.length) {
      const value = channel[Math.floor(this.position)];
      this.buffer[this.filled++] = Math.max(-1, Math.min(1, value)) * 0x7fff;
      if (this.filled === CHUNK) {
        this.port.postMessage(this.buffer.buffer, [this.buffer.buffer]);
        this.buffer = new Int16Array(CHUNK);
        this.filled = 0;
      }
      this.position += this.step;
    }
    this.position -= channel.length;
    return true;
  }
}

registerProcessor("pcm16-capture", Pcm16Capture);
