/**
 * The letterbox resize policy's geometry (`resize: { mode: "letterbox" }`): where the whole image
 * lands inside the model's input. One pure function shared by both decoder paths (sharp and
 * libjpeg-turbo) and by the way back (`inputToImage`), so they agree by construction.
 */
/** The resized image inside the padded square: its size and its top-left corner, in input pixels. */
export interface Letterbox {
  width: number;
  height: number;
  left: number;
  top: number;
}

/**
 * Fit `width` × `height` into `inputWidth` × `inputHeight` keeping the aspect ratio, centred: the
 * longer side fills the input, the other is rounded to whole pixels (at least 1), the padding split
 * with the odd pixel at the right or bottom.
 */
export function letterboxGeometry(width: number, height: number, inputWidth: number, inputHeight: number): Letterbox {
  const s = Math.min(inputWidth / width, inputHeight / height);
  const w = Math.min(inputWidth, Math.max(1, Math.round(width * s)));
  const h = Math.min(inputHeight, Math.max(1, Math.round(height * s)));
  return { width: w, height: h, left: Math.floor((inputWidth - w) / 2), top: Math.floor((inputHeight - h) / 2) };
}

