"""Pure array math: arrays in, arrays out, no state. The layers in strided.nn wrap these kernels."""
