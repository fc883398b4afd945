/**
 * Where the model's input tensor lies in the original image (after EXIF orientation), per resize
 * policy, and the way back: a point at (u, v) in [0, 1] of the input maps to original pixels
 * x = u × scaleX + offsetX, y = v × scaleY + offsetY. Pure functions; the decoders use
 * `letterboxGeometry` to draw the image, the detector uses `inputToImage` to map its boxes back, so
 * both sides agree by construction.
 */
import type { ModelInput } from '../model/ModelCard.js';
import { letterboxGeometry } from './letterboxGeometry.js';
import { shorterSideThenCenterCrop } from './centerCrop.js';

/** The affine map from [0, 1] input coordinates to original pixels. */
export interface InputToImage {
  scaleX: number;
  offsetX: number;
  scaleY: number;
  offsetY: number;
}

export function inputToImage(input: Pick<ModelInput, 'width' | 'height' | 'resize'>, width: number, height: number): InputToImage {
  const r = input.resize;
  if ('shorter' in r) {
    const plan = shorterSideThenCenterCrop(width, height, r.shorter, input.width, input.height);
    const kx = width / plan.resizeWidth;
    const ky = height / plan.resizeHeight;
    return { scaleX: input.width * kx, offsetX: plan.left * kx, scaleY: input.height * ky, offsetY: plan.top * ky };
  }
  if (r.mode === 'stretch') return { scaleX: width, offsetX: 0, scaleY: height, offsetY: 0 };
  const box = letterboxGeometry(width, height, input.width, input.height);
  const kx = width / box.width;
  const ky = height / box.height;
  return { scaleX: input.width * kx, offsetX: -box.left * kx, scaleY: input.height * ky, offsetY: -box.top * ky };
}
