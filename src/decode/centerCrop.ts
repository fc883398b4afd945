/**
 * torchvision's shorter-side resize + center crop as plain arithmetic: no pixels, no sharp, so the
 * geometry (src/decode/inputGeometry.ts, the detector's box mapping) loads without the decoder.
 */
import { ImageError } from '../util/errors.js';

/**
 * torchvision's `Resize(shorter)` + `CenterCrop`: the longer side is truncated like `int()`, and the
 * crop offset is `round((dim - crop) / 2)` with round-half-to-even, as Python's round does.
 */
export function shorterSideThenCenterCrop(width: number, height: number, shorter: number, cropWidth: number, cropHeight: number) {
  const resizeWidth = width <= height ? shorter : Math.trunc((shorter * width) / height);
  const resizeHeight = width <= height ? Math.trunc((shorter * height) / width) : shorter;
  if (resizeWidth < cropWidth || resizeHeight < cropHeight) {
    throw new ImageError('decode_failed', `resized to ${resizeWidth}x${resizeHeight}, smaller than the ${cropWidth}x${cropHeight} crop`);
  }
  return { resizeWidth, resizeHeight, left: roundHalfEven((resizeWidth - cropWidth) / 2), top: roundHalfEven((resizeHeight - cropHeight) / 2) };
}

export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}
