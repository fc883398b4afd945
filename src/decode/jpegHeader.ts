/**
 * What the fast JPEG path needs to know before decoding, read from the markers in front of the scan:
 * frame type, precision, size and components (SOFn), EXIF orientation (APP1), the embedded ICC
 * profile (APP2 chunks, reassembled) and whether an Adobe APP14 marker is present.
 * Pure function over the bytes; never throws — a header it cannot read gives null, and the caller
 * leaves the file to sharp (which then reports the proper error reason).
 */

export interface JpegHeader {
  /** The SOF marker's low nibble: 0 baseline, 1 extended sequential, 2 progressive; others are rarer kinds. */
  frameType: number;
  precision: number;
  width: number;
  height: number;
  components: number;
  /** EXIF orientation 1–8; 1 when there is no EXIF orientation. */
  orientation: number;
  /** The ICC profile, or null when there is none (or its chunks are incomplete). */
  icc: Uint8Array | null;
  adobe: boolean;
}

export function isJpeg(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
}

export function readJpegHeader(b: Uint8Array): JpegHeader | null {
  if (!isJpeg(b)) return null;
  let orientation = 1;
  let adobe = false;
  const iccChunks = new Map<number, Uint8Array>();
  let iccCount = 0;
  let at = 2;
  while (at + 4 <= b.length) {
    if (b[at] !== 0xff) return null;
    let marker = b[at + 1]!;
    while (marker === 0xff && at + 2 < b.length) marker = b[++at + 1]!; // fill bytes
    at += 2;
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // no length
    if (at + 2 > b.length) return null;
    const length = (b[at]! << 8) | b[at + 1]!;
    if (length < 2 || at + length > b.length) return null;
    const body = b.subarray(at + 2, at + length);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (body.length < 6) return null;
      const icc = assembleIcc(iccChunks, iccCount);
      return {
        frameType: marker & 0x0f,
        precision: body[0]!,
        height: (body[1]! << 8) | body[2]!,
        width: (body[3]! << 8) | body[4]!,
        components: body[5]!,
        orientation,
        icc,
        adobe,
      };
    }
    if (marker === 0xda || marker === 0xd9) return null; // scan or end before any frame header
    if (marker === 0xe1 && startsWith(body, EXIF)) orientation = exifOrientation(body.subarray(6)) ?? orientation;
    else if (marker === 0xe2 && startsWith(body, ICC) && body.length >= 14) {
      iccChunks.set(body[12]!, body.subarray(14));
      iccCount = body[13]!;
    } else if (marker === 0xee && startsWith(body, ADOBE)) adobe = true;
    at += length;
  }
  return null;
}

const EXIF = [0x45, 0x78, 0x69, 0x66, 0x00, 0x00]; // "Exif\0\0"
const ICC = [0x49, 0x43, 0x43, 0x5f, 0x50, 0x52, 0x4f, 0x46, 0x49, 0x4c, 0x45, 0x00]; // "ICC_PROFILE\0"
const ADOBE = [0x41, 0x64, 0x6f, 0x62, 0x65]; // "Adobe"

function startsWith(b: Uint8Array, prefix: readonly number[]): boolean {
  if (b.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (b[i] !== prefix[i]) return false;
  return true;
}

/** Chunks are numbered 1…count; a profile with a chunk missing is treated as absent. */
function assembleIcc(chunks: Map<number, Uint8Array>, count: number): Uint8Array | null {
  if (count === 0 || chunks.size === 0) return null;
  const parts: Uint8Array[] = [];
  for (let i = 1; i <= count; i++) {
    const part = chunks.get(i);
    if (!part) return null;
    parts.push(part);
  }
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Orientation (tag 0x0112) from IFD0 of the TIFF structure inside an EXIF segment. */
function exifOrientation(tiff: Uint8Array): number | null {
  if (tiff.length < 8) return null;
  const little = tiff[0] === 0x49 && tiff[1] === 0x49;
  if (!little && !(tiff[0] === 0x4d && tiff[1] === 0x4d)) return null;
  const u16 = (o: number) => (little ? tiff[o]! | (tiff[o + 1]! << 8) : (tiff[o]! << 8) | tiff[o + 1]!);
  const u32 = (o: number) => (little ? (tiff[o]! | (tiff[o + 1]! << 8) | (tiff[o + 2]! << 16)) + tiff[o + 3]! * 2 ** 24 : tiff[o]! * 2 ** 24 + ((tiff[o + 1]! << 16) | (tiff[o + 2]! << 8) | tiff[o + 3]!));
  if (u16(2) !== 42) return null;
  const ifd = u32(4);
  if (ifd + 2 > tiff.length) return null;
  const entries = u16(ifd);
  for (let i = 0; i < entries; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > tiff.length) return null;
    if (u16(e) === 0x0112) {
      const value = u16(e + 8);
      return value >= 1 && value <= 8 ? value : null;
    }
  }
  return null;
}
