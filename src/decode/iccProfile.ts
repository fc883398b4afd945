/**
 * Is an embedded ICC profile sRGB in effect? Then converting to sRGB changes nothing and the decoder
 * may skip the colour transform (libvips/lcms would build a new one for every such image).
 *
 * Robust to the many profiles that call themselves sRGB (IEC 61966-2.1, ICC v4 sRGB, compact
 * "c2"-style profiles, camera and browser variants): the decision is on what the profile *does*,
 * never on its name — an RGB matrix/TRC profile whose colorants are sRGB's primaries (D50-adapted)
 * within 0.01 and whose three tone curves follow the sRGB curve within 0.01 at every sample point.
 * Anything else (Adobe RGB, Display P3, ProPhoto, LUT-based, grey or CMYK profiles, a damaged
 * profile) is not sRGB and keeps its conversion. Pure function; never throws.
 */

/** sRGB colorants as ICC profiles store them (Bradford-adapted to D50), X Y Z of red, green, blue. */
const SRGB_COLORANTS: readonly (readonly number[])[] = [
  [0.4361, 0.2225, 0.0139],
  [0.3851, 0.7169, 0.0971],
  [0.1431, 0.0606, 0.7141],
];
const TOLERANCE = 0.01;

const srgbCurve = (v: number) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);

export function isSrgbProfile(icc: Uint8Array): boolean {
  try {
    if (icc.length < 132) return false;
    const view = new DataView(icc.buffer, icc.byteOffset, icc.byteLength);
    const sig = (o: number) => String.fromCharCode(icc[o]!, icc[o + 1]!, icc[o + 2]!, icc[o + 3]!);
    if (sig(16) !== 'RGB ' || sig(20) !== 'XYZ ') return false;
    const tags = new Map<string, Uint8Array>();
    const count = view.getUint32(128);
    if (count > 200 || 132 + count * 12 > icc.length) return false;
    for (let i = 0; i < count; i++) {
      const e = 132 + i * 12;
      const offset = view.getUint32(e + 4);
      const size = view.getUint32(e + 8);
      if (offset + size > icc.length) return false;
      tags.set(sig(e), icc.subarray(offset, offset + size));
    }
    // A profile with A2B/B2A tables may transform differently from its matrix: not ours to judge.
    if (tags.has('A2B0') || tags.has('B2A0')) return false;
    const names = ['rXYZ', 'gXYZ', 'bXYZ'];
    for (let c = 0; c < 3; c++) {
      const xyz = readXyz(tags.get(names[c]!));
      if (!xyz) return false;
      for (let k = 0; k < 3; k++) if (Math.abs(xyz[k]! - SRGB_COLORANTS[c]![k]!) > TOLERANCE) return false;
    }
    for (const name of ['rTRC', 'gTRC', 'bTRC']) {
      const curve = readCurve(tags.get(name));
      if (!curve) return false;
      for (let i = 1; i < 16; i++) {
        const v = i / 16;
        if (Math.abs(curve(v) - srgbCurve(v)) > TOLERANCE) return false;
      }
    }
    return true;
  } catch {
    return false;
  }
}

const s15Fixed16 = (d: DataView, o: number) => d.getInt32(o) / 65536;

function readXyz(tag: Uint8Array | undefined): number[] | null {
  if (!tag || tag.length < 20) return null;
  const d = new DataView(tag.buffer, tag.byteOffset, tag.byteLength);
  if (d.getUint32(0) !== 0x58595a20) return null; // 'XYZ '
  return [s15Fixed16(d, 8), s15Fixed16(d, 12), s15Fixed16(d, 16)];
}

/** A `curv` (identity, gamma or table) or `para` (functions 0–4) tone curve as a function on [0, 1]. */
function readCurve(tag: Uint8Array | undefined): ((v: number) => number) | null {
  if (!tag || tag.length < 12) return null;
  const d = new DataView(tag.buffer, tag.byteOffset, tag.byteLength);
  const type = d.getUint32(0);
  if (type === 0x63757276) {
    // 'curv'
    const n = d.getUint32(8);
    if (n === 0) return (v) => v;
    if (n === 1) {
      const gamma = d.getUint16(12) / 256;
      return (v) => v ** gamma;
    }
    if (tag.length < 12 + n * 2) return null;
    return (v) => {
      const x = v * (n - 1);
      const i = Math.min(Math.floor(x), n - 2);
      const f = x - i;
      return ((1 - f) * d.getUint16(12 + i * 2) + f * d.getUint16(12 + (i + 1) * 2)) / 65535;
    };
  }
  if (type === 0x70617261) {
    // 'para'
    const fn = d.getUint16(8);
    const counts = [1, 3, 4, 5, 7];
    const k = counts[fn];
    if (k === undefined || tag.length < 12 + k * 4) return null;
    const p = Array.from({ length: k }, (_, i) => s15Fixed16(d, 12 + i * 4));
    const [g, a = 1, b = 0, c = 0, dd = 0, e = 0, f = 0] = p as [number, ...number[]];
    switch (fn) {
      case 0:
        return (v) => v ** g;
      case 1:
        return (v) => (v >= -b / a ? (a * v + b) ** g : 0);
      case 2:
        return (v) => (v >= -b / a ? (a * v + b) ** g + c : c);
      case 3:
        return (v) => (v >= dd ? (a * v + b) ** g : c * v);
      default:
        return (v) => (v >= dd ? (a * v + b) ** g + e : c * v + f);
    }
  }
  return null;
}
