/**
 * The detector task: SSD anchors and box decoding against hand-computed values, suppression,
 * letterbox preprocessing (a box drawn into an image comes back in original pixels through both
 * decoder paths), cards refused at load with exact messages, the real BlazeFace on real photos
 * (recall and false positives on a hand-labelled set), and `imgpipe run --model blazeface` end to end,
 * read back by DuckDB.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageDecoder } from '../src/decode/ImageDecoder.js';
import { inputToImage } from '../src/decode/inputGeometry.js';
import { letterboxGeometry } from '../src/decode/letterboxGeometry.js';
import { DetectionDecoder } from '../src/model/detector/DetectionDecoder.js';
import { detectionColumns } from '../src/model/detector/detectionRow.js';
import { anchorCount, describeAnchors, ssdAnchors } from '../src/model/detector/ssdAnchors.js';
import { loadModel, readModelCard } from '../src/model/loadModelCard.js';
import type { DetectorOutput, ModelInput } from '../src/model/ModelCard.js';
import { ModelSession } from '../src/model/ModelSession.js';
import { CLI, imgpipe, imgpipeCollect, lit, query, REPO, tempDir, imgpipeInProcess, copyDemoWarehouse } from './util/cli.js';
import { redisUnavailable, startRedis } from './util/redisServer.js';
import { chromiumMissing, HeadlessPage } from './util/headlessChromium.js';

const tmp = tempDir('imgpipe-detector-');
afterAll(() => tmp.cleanup());

const BLAZEFACE_GROUPS = [
  { grid: 16, anchors_per_cell: 2 },
  { grid: 8, anchors_per_cell: 6 },
];

describe('SSD anchors', () => {
  it('lay out MediaPipe\'s 896 BlazeFace anchors: groups in order, cells row by row, anchors per cell innermost', () => {
    const a = ssdAnchors(BLAZEFACE_GROUPS, 0.5);
    expect(anchorCount(BLAZEFACE_GROUPS)).toBe(896);
    expect(describeAnchors(BLAZEFACE_GROUPS)).toBe('2×16² + 6×8² = 896');
    expect(a.length).toBe(896 * 2);
    const at = (i: number) => [a[2 * i], a[2 * i + 1]];
    expect(at(0)).toEqual([0.5 / 16, 0.5 / 16]);
    expect(at(1)).toEqual([0.5 / 16, 0.5 / 16]); // second anchor of the same cell
    expect(at(2)).toEqual([1.5 / 16, 0.5 / 16]); // next cell to the right
    expect(at(32)).toEqual([0.5 / 16, 1.5 / 16]); // first cell of the second row (16 cells × 2)
    expect(at(511)).toEqual([15.5 / 16, 15.5 / 16]);
    expect(at(512)).toEqual([0.5 / 8, 0.5 / 8]); // first anchor of the 8×8 group
    expect(at(512 + 6)).toEqual([1.5 / 8, 0.5 / 8]);
    expect(at(512 + (2 * 8 + 3) * 6 + 5)).toEqual([3.5 / 8, 2.5 / 8]);
    expect(at(895)).toEqual([7.5 / 8, 7.5 / 8]);
  });
});

/** The blazeface card's output, as tests vary it. */
const blazefaceOutput = (over: Partial<DetectorOutput> = {}): DetectorOutput => ({
  scores: ['Identity:0', 'Identity_1:0'],
  boxes: ['Identity_2:0', 'Identity_3:0'],
  encoding: { kind: 'ssd_anchors', groups: BLAZEFACE_GROUPS, offset: 0.5, fixed_size: true, scale: 256, keypoints: 6 },
  activation: 'sigmoid',
  min_score: 0.75,
  nms: { kind: 'weighted', iou: 0.3 },
  max_detections: 100,
  labels: ['face'],
  ...over,
});
const LETTERBOX_256: Pick<ModelInput, 'width' | 'height' | 'resize'> = { width: 256, height: 256, resize: { mode: 'letterbox', pad: [0, 0, 0] } };

/** A packed BlazeFace output (896 scores, then 896 × 16 box values) with every score very low. */
function emptyOutput(): Float32Array {
  const out = new Float32Array(896 * 17);
  out.fill(-20, 0, 896);
  return out;
}
function setRow(out: Float32Array, row: number, logit: number, box: number[]): void {
  out[row] = logit;
  out.set(box, 896 + row * 16);
}
/** The 8×8 group's anchor for cell (x, y), anchor k of the cell. */
const row8 = (x: number, y: number, k = 0) => 512 + (y * 8 + x) * 6 + k;

describe('DetectionDecoder', () => {
  it('decodes a known box on a letterboxed 512×256 image into original pixels', () => {
    // Image 512×256 → scale 0.5, 256×128 inside the input, 64 px of padding above and below.
    // Anchor (3.5/8, 2.5/8) of 256 = (112, 80) input px; raw x +8, y +40, w 64, h 48 (input px):
    // centre (120, 120), corners (88, 96)–(152, 144) input px → ((88-0)/0.5, (96-64)/0.5) = (176, 64),
    // size 128 × 96 original px. Score sigmoid(2) = 0.8808. Key point 0 at the anchor: (224, 32).
    const out = emptyOutput();
    const kp = [0, 0, 4, 0, 0, 4, 0, 8, -8, 0, 8, 0];
    setRow(out, row8(3, 2), 2, [8, 40, 64, 48, ...kp]);
    const d = new DetectionDecoder(blazefaceOutput(), LETTERBOX_256).decode(out, 512, 256);
    expect(d.detections).toHaveLength(1);
    const [det] = d.detections;
    expect(det!.label).toBe('face');
    expect(det!.score).toBeCloseTo(1 / (1 + Math.exp(-2)), 6);
    expect(det!.x).toBeCloseTo(176, 4);
    expect(det!.y).toBeCloseTo(64, 4);
    expect(det!.w).toBeCloseTo(128, 4);
    expect(det!.h).toBeCloseTo(96, 4);
    expect(Array.from(d.keypoints[0]!.subarray(0, 4))).toEqual([224, 32, 232, 32]);
    expect(d.maxAreaRatio).toBeCloseTo((128 * 96) / (512 * 256), 6);
    expect(d.sumAreaRatio).toBeCloseTo((128 * 96) / (512 * 256), 6);
  });

  it('drops rows below min_score, and a run\'s --min-score overrides the card', () => {
    const out = emptyOutput();
    setRow(out, row8(3, 2), Math.log(0.8 / 0.2), [0, 0, 32, 32]); // score 0.8
    const decoder = new DetectionDecoder(blazefaceOutput(), LETTERBOX_256);
    expect(decoder.decode(out, 256, 256).detections).toHaveLength(1); // card: 0.75
    expect(decoder.decode(out, 256, 256, 0.81).detections).toHaveLength(0);
    const none = decoder.decode(out, 256, 256, 0.81);
    expect([none.maxAreaRatio, none.sumAreaRatio, none.keypoints.length]).toEqual([0, 0, 0]);
  });

  it('weighted NMS merges overlapping boxes by score; hard NMS keeps the best; far boxes stay', () => {
    const out = emptyOutput();
    // Two anchors of one cell (same centre), widths 64 and 80 input px: IoU 64/80 = 0.8.
    setRow(out, row8(3, 3, 0), 2, [0, 0, 64, 64]);
    setRow(out, row8(3, 3, 1), 1, [0, 0, 80, 64]);
    setRow(out, row8(7, 0, 0), 3, [0, 0, 16, 16]); // far away, best score
    const s2 = 1 / (1 + Math.exp(-2));
    const s1 = 1 / (1 + Math.exp(-1));
    const weighted = new DetectionDecoder(blazefaceOutput({ min_score: 0.5 }), LETTERBOX_256).decode(out, 256, 256);
    expect(weighted.detections.map((d) => d.w)).toEqual([16, expect.closeTo((s2 * 64 + s1 * 80) / (s2 + s1), 3)]);
    expect(weighted.detections[1]!.score).toBeCloseTo(s2, 6); // the best score of the cluster
    const hard = new DetectionDecoder(blazefaceOutput({ min_score: 0.5, nms: { kind: 'hard', iou: 0.3 } }), LETTERBOX_256).decode(out, 256, 256);
    expect(hard.detections.map((d) => d.w)).toEqual([16, 64]);
    const loose = new DetectionDecoder(blazefaceOutput({ min_score: 0.5, nms: { kind: 'hard', iou: 0.9 } }), LETTERBOX_256).decode(out, 256, 256);
    expect(loose.detections).toHaveLength(3); // IoU 0.8 < 0.9: not suppressed
    const capped = new DetectionDecoder(blazefaceOutput({ min_score: 0.5, max_detections: 1 }), LETTERBOX_256).decode(out, 256, 256);
    expect(capped.detections.map((d) => d.w)).toEqual([16]);
  });

  it('clips boxes to the image and drops one that lies wholly in the padding', () => {
    const out = emptyOutput();
    setRow(out, row8(0, 0), 4, [0, 0, 40, 40]); // centre (16, 16) input px: inside the top padding of a 512×256 image
    setRow(out, row8(4, 4), 4, [100, 0, 40, 40]); // centre (244, 144): crosses the right edge
    const d = new DetectionDecoder(blazefaceOutput(), LETTERBOX_256).decode(out, 512, 256);
    expect(d.detections).toHaveLength(1);
    const [det] = d.detections;
    expect(det!.x + det!.w).toBeCloseTo(512, 4);
    expect(det!.x).toBeCloseTo((244 - 20) * 2, 4);
  });

  it('reads graphs that output corner boxes already, with several labels', () => {
    const output: DetectorOutput = { ...blazefaceOutput(), scores: ['s'], boxes: ['b'], encoding: { kind: 'corners', keypoints: 0 }, activation: 'none', min_score: 0.5, labels: ['face', 'cat'] };
    const rows = 3;
    const packed = new Float32Array(rows * 2 + rows * 4);
    packed.set([0.1, 0.2, 0.3, 0.9, 0.6, 0.1]); // row 1: cat 0.9, row 2: face 0.6
    packed.set([0, 0, 1, 1, 0.5, 0.5, 1, 1, 0, 0, 0.25, 0.5], 6);
    const stretch: Pick<ModelInput, 'width' | 'height' | 'resize'> = { width: 100, height: 100, resize: { mode: 'stretch' } };
    const d = new DetectionDecoder(output, stretch).decode(packed, 400, 200);
    expect(d.detections).toEqual([
      { label: 'cat', score: expect.closeTo(0.9, 6), x: 200, y: 100, w: 200, h: 100 },
      { label: 'face', score: expect.closeTo(0.6, 6), x: 0, y: 0, w: 100, h: 100 },
    ]);
  });

  it('refuses output that does not match the anchors, naming both numbers', () => {
    const decoder = new DetectionDecoder(blazefaceOutput(), LETTERBOX_256);
    expect(() => decoder.decode(new Float32Array(512 * 17), 10, 10)).toThrow('anchors: 2×16² + 6×8² = 896, but the outputs have 512 rows');
    expect(() => decoder.decode(new Float32Array(100), 10, 10)).toThrow('detector output has 100 values, not a whole number of rows of 1 score(s) + 16 box values');
  });
});

describe('letterbox preprocessing', () => {
  const input = (width: number, height: number): ModelInput => ({
    name: 'x', layout: 'NHWC', dtype: 'uint8', width, height, channels: 'RGB', resize: { mode: 'letterbox', pad: [0, 0, 255] },
  });

  /** The red rectangle's bounding box in an NHWC uint8 tensor, edges where green crosses half way (grey 128 → red 0). */
  function redBox(t: Uint8Array, w: number, h: number) {
    let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const i = 3 * (y * w + x);
      if (t[i + 1]! < 64 && t[i + 2]! < 64) (x1 = Math.min(x1, x)), (y1 = Math.min(y1, y)), (x2 = Math.max(x2, x + 1)), (y2 = Math.max(y2, y + 1));
    }
    return { x1, y1, x2, y2 };
  }

  const cases = [
    { what: 'landscape, padded above and below (upscaled)', width: 200, height: 120, box: { x: 60, y: 30, w: 50, h: 40 } },
    { what: 'portrait, padded left and right (upscaled)', width: 96, height: 160, box: { x: 20, y: 100, w: 40, h: 30 } },
  ];
  for (const c of cases) {
    for (const format of ['png', 'jpeg', 'jpeg-exif-rotated'] as const) {
      it(`a box drawn into a ${c.what} ${format} comes back in original pixels within a pixel`, async () => {
        const svg = `<svg width="${c.width}" height="${c.height}"><rect width="100%" height="100%" fill="#808080"/><rect x="${c.box.x}" y="${c.box.y}" width="${c.box.w}" height="${c.box.h}" fill="#ff0000"/></svg>`;
        const img = sharp(Buffer.from(svg));
        const jpeg = { quality: 100, chromaSubsampling: '4:4:4' } as const;
        // EXIF orientation 6 (display turned 90° clockwise) over pixels turned 90° counter-clockwise:
        // upright as displayed, so boxes must come back in the upright image's pixels.
        const bytes = new Uint8Array(
          format === 'png'
            ? await img.png().toBuffer()
            : format === 'jpeg'
              ? await img.jpeg(jpeg).toBuffer()
              : await sharp(await sharp(await img.png().toBuffer()).rotate(270).toBuffer()).withMetadata({ orientation: 6 }).jpeg(jpeg).toBuffer(),
        );
        const decoder = new ImageDecoder();
        const spec = input(256, 256);
        const d = await decoder.decode(bytes, spec, 1e9);
        if (!d.ok) throw new Error(d.detail);
        expect([d.width, d.height]).toEqual([c.width, c.height]);
        if (format === 'jpeg') expect(decoder.stats.turbo).toBe(1); // the libjpeg-turbo path
        else expect(decoder.stats.sharp).toBe(1); // PNG, and a rotated JPEG: sharp's full path
        const t = d.tensor as Uint8Array;
        // The padding is the card's colour; the image is centred.
        const lb = letterboxGeometry(c.width, c.height, 256, 256);
        expect(lb.left === 0 || lb.top === 0).toBe(true);
        expect(Array.from(t.subarray(0, 3))).toEqual([0, 0, 255]);
        expect(Array.from(t.subarray(t.length - 3))).toEqual([0, 0, 255]);
        const centre = 3 * (128 * 256 + 128);
        expect(t[centre + 2]).toBeLessThan(200); // grey image, not padding
        // Map the box found in the tensor back: u = px / 256 → original pixels.
        const found = redBox(t, 256, 256);
        const m = inputToImage(spec, c.width, c.height);
        const back = { x: (found.x1 / 256) * m.scaleX + m.offsetX, y: (found.y1 / 256) * m.scaleY + m.offsetY, x2: (found.x2 / 256) * m.scaleX + m.offsetX, y2: (found.y2 / 256) * m.scaleY + m.offsetY };
        expect(Math.abs(back.x - c.box.x)).toBeLessThanOrEqual(1);
        expect(Math.abs(back.y - c.box.y)).toBeLessThanOrEqual(1);
        expect(Math.abs(back.x2 - (c.box.x + c.box.w))).toBeLessThanOrEqual(1);
        expect(Math.abs(back.y2 - (c.box.y + c.box.h))).toBeLessThanOrEqual(1);
      });
    }
  }
});

/** A copy of the built-in blazeface card in its own folder, changed by `edit`. */
function blazefaceCard(name: string, edit: (card: Record<string, any>) => void): string {
  const dir = path.join(tmp.dir, 'cards', name);
  mkdirSync(dir, { recursive: true });
  const card = JSON.parse(readFileSync(path.join(REPO, 'models', 'blazeface', 'model.json'), 'utf8'));
  cpSync(path.join(REPO, 'models', 'blazeface', 'model.onnx'), path.join(dir, 'model.onnx'));
  edit(card);
  writeFileSync(path.join(dir, 'model.json'), JSON.stringify(card, null, 2));
  return path.join(dir, 'model.json');
}

describe('detector cards', () => {
  it('the built-in blazeface and blazeface-front cards load and fit their graphs', async () => {
    for (const [name, size] of [['blazeface', 256], ['blazeface-front', 128]] as const) {
      const model = await loadModel(name);
      expect(model.card.task).toBe('detector');
      const session = await ModelSession.create(model);
      expect([session.fixedBatch, session.valuesPerImage, session.outputWidth]).toEqual([1, size * size * 3, 896 * 17]);
      const outputs = await session.runOutputs(new Float32Array(size * size * 3), 1);
      expect(Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.length]))).toEqual({ 'Identity:0': 512, 'Identity_1:0': 384, 'Identity_2:0': 512 * 16, 'Identity_3:0': 384 * 16 });
      await session.close();
    }
  });

  it('refuses anchors that do not match the graph, at load, with both numbers', async () => {
    const file = blazefaceCard('bad-anchors', (c) => (c.output.encoding.groups[1].anchors_per_cell = 2));
    const model = await loadModel(file);
    await expect(ModelSession.create(model)).rejects.toThrow(`Model card ${file} does not fit ${path.join(path.dirname(file), 'model.onnx')}: anchors: 2×16² + 2×8² = 640, but outputs Identity_2:0 + Identity_3:0 have 512 + 384 = 896 rows`);
  });

  it('refuses other mismatches: names, row counts, key points, pairing', async () => {
    const cases: [string, (c: Record<string, any>) => void, string][] = [
      ['no-output', (c) => (c.output.scores[1] = 'nope'), 'no tensor output named "nope" for output.scores (graph outputs: Identity:0, Identity_1:0, Identity_2:0, Identity_3:0)'],
      ['swapped', (c) => (c.output.boxes = ['Identity_3:0', 'Identity_2:0']), 'output "Identity:0" has 512 rows but its boxes output "Identity_3:0" has 384'],
      ['keypoints', (c) => (c.output.encoding.keypoints = 5), 'output "Identity_2:0" has 16 values per row but 4 box values + 2 × 5 key points needs 14'],
      ['labels', (c) => (c.output.labels = ['face', 'cat']), 'output "Identity:0" has 1 values per row but 2 label(s) needs 2'],
      ['pairing', (c) => (c.output.boxes = ['Identity_2:0']), 'output.scores names 2 output(s) but output.boxes names 1; give one boxes output per scores output'],
    ];
    for (const [name, edit, message] of cases) {
      const model = await loadModel(blazefaceCard(name, edit));
      await expect(ModelSession.create(model), name).rejects.toThrow(message);
    }
  });

  it('validates the detector card strictly, naming each field', () => {
    const cases: [string, (c: Record<string, any>) => void, RegExp][] = [
      ['unknown', (c) => (c.output.encoding.stride = 8), /: Expected no unknown field \(known: kind, groups, offset, fixed_size, scale, keypoints\) for output\.encoding\.stride but received 8 of type number$/],
      ['nms', (c) => (c.output.nms.kind = 'soft'), /: Expected one of: weighted, hard for output\.nms\.kind but received "soft" of type string$/],
      ['score', (c) => (c.output.min_score = 1.5), /: Expected finite number between 0 and 1 for output\.min_score but received 1\.5 of type number$/],
      ['pad', (c) => (c.input.resize.pad = [0, 0, 256]), /: Expected integer between 0 and 255 for input\.resize\.pad\[2\] but received 256 of type number$/],
      ['grid', (c) => (c.output.encoding.groups[0].grid = 0), /: Expected integer between 1 and 1024 for output\.encoding\.groups\[0\]\.grid but received 0 of type number$/],
      ['no-labels', (c) => (c.output.labels = []), /: Expected non-empty array of non-empty string for output\.labels but received \[\] of type object$/],
    ];
    for (const [name, edit, message] of cases) {
      const file = blazefaceCard(`schema-${name}`, edit);
      expect(() => readModelCard(file), name).toThrow(message);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Real photos. The 100 ImageNet sample photos were looked at one by one (contact sheets of 12,
// 300 px tiles, by eye) and sorted into: a clearly visible human face (FACES), no person at all
// (everything not listed), and ambiguous (people whose faces are turned away, covered, cut off or
// only a few pixels: AMBIGUOUS), which counts for neither recall nor false positives. Animal faces
// (dogs, monkeys, a jaguar) are negatives: a face detector should not fire on them.
const SHARED_IMAGES = path.resolve(REPO, '..', 'shared', 'images', 'imagenet-sample');
const FACES = [
  'n02107908_Appenzeller.JPEG', // a woman with glasses beside a dog
  'n02669723_academic_gown.JPEG', // a man in cap and gown
  'n02860847_bobsled.JPEG', // two people in a bobsleigh, small faces
  'n02948072_candle.JPEG', // two children behind a candle, one in profile
  'n03642806_laptop.JPEG', // a young man on the floor with a laptop
  'n03887697_paper_towel.JPEG', // two men at a table
];
const AMBIGUOUS = [
  'n02088094_Afghan_hound.JPEG', // people's legs only
  'n02787622_banjo.JPEG', // an arm only
  'n02802426_basketball.JPEG', // players from behind, faces a few pixels
  'n03000247_chain_mail.JPEG', // the face cut off by the frame
  'n03379051_football_helmet.JPEG', // faces behind helmet grilles
  'n03791053_motor_scooter.JPEG', // firemen in helmets, faces hidden
  'n04120489_running_shoe.JPEG', // legs only
  'n04310018_steam_locomotive.JPEG', // tiny faces in train windows
  'n04336792_stretcher.JPEG', // rescuers in masks
  'n04482393_tricycle.JPEG', // small people in the distance
  'n04509417_unicycle.JPEG', // a man from behind, small passers-by
  'n04540053_volleyball.JPEG', // players, faces small and blurred
  'n07836838_chocolate_sauce.JPEG', // a hand only
];
const sharedMissing = existsSync(SHARED_IMAGES) ? null : `${SHARED_IMAGES} not found (the shared ImageNet sample)`;
if (sharedMissing) console.warn(`SKIP detector tests on real photos: ${sharedMissing}`);

describe.skipIf(sharedMissing !== null)('blazeface on the shared photos', () => {
  it('finds the clearly visible faces and rarely fires elsewhere (threshold: the card\'s 0.75)', async () => {
    const files = readdirSync(SHARED_IMAGES).filter((f) => f.endsWith('.JPEG')).sort();
    expect(files).toHaveLength(100);
    for (const f of FACES) expect(files).toContain(f);
    const model = await loadModel('blazeface');
    const session = await ModelSession.create(model);
    const decoder = new ImageDecoder();
    const found = new Map<string, ReturnType<typeof detectionColumns>>();
    try {
      for (const f of files) {
        const d = await decoder.decode(new Uint8Array(readFileSync(path.join(SHARED_IMAGES, f))), model.card.input, 1e9);
        if (!d.ok) throw new Error(`${f}: ${d.detail}`);
        found.set(f, detectionColumns(model, await session.run(d.tensor, 1), d.width, d.height));
      }
    } finally {
      await session.close();
    }
    const negatives = files.filter((f) => !FACES.includes(f) && !AMBIGUOUS.includes(f));
    const hits = FACES.filter((f) => found.get(f)!.count > 0);
    const falsePositives = negatives.filter((f) => found.get(f)!.count > 0);
    console.log(`blazeface @0.75: recall ${hits.length}/${FACES.length}, false positives ${falsePositives.length}/${negatives.length} (${falsePositives.join(', ')})`);
    expect(negatives.length).toBe(81);
    expect(hits.length / FACES.length).toBeGreaterThanOrEqual(5 / 6);
    expect(falsePositives.length / negatives.length).toBeLessThanOrEqual(0.06);
    // Two people side by side: two faces, not one merged box.
    expect(found.get('n03887697_paper_towel.JPEG')!.count).toBe(2);
    expect(found.get('n02860847_bobsled.JPEG')!.count).toBe(2);
    // Every box lies in its image, and its eyes (key points 0 and 1) inside the box.
    for (const [f, r] of found) {
      r.detections.forEach((det, i) => {
        expect(det.x >= 0 && det.y >= 0 && det.w > 0 && det.h > 0, f).toBe(true);
        const kp = r.keypoints[i]!;
        for (const k of [0, 1]) {
          expect(kp[2 * k]! >= det.x && kp[2 * k]! <= det.x + det.w && kp[2 * k + 1]! >= det.y && kp[2 * k + 1]! <= det.y + det.h, `${f} eye ${k}`).toBe(true);
        }
      });
    }
  }, 120_000);
});

describe('imgpipe run --model blazeface', () => {
  const wh = path.join(tmp.dir, 'wh');
  const parts = path.join(tmp.dir, 'partitions');
  const cli = (args: string[]) => {
    const r = imgpipe(args);
    if (r.code !== 0) throw new Error(`imgpipe ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  const names: string[] = [];
  let firstRun: { run_id: string; output: string } | null = null;

  beforeAll(() => {
    copyDemoWarehouse(wh);
    // Real photos in a Portraits category: the faces and a few without people (or, without ../shared, none).
    if (!sharedMissing) {
      const src = path.join(tmp.dir, 'photos', 'Portraits');
      mkdirSync(src, { recursive: true });
      for (const f of [...FACES, 'n01440764_tench.JPEG', 'n07747607_orange.JPEG', 'n09472597_volcano.JPEG'].filter((f) => existsSync(path.join(SHARED_IMAGES, f)))) {
        const name = f.replace(/\.JPEG$/, '.jpg');
        cpSync(path.join(SHARED_IMAGES, f), path.join(src, name));
        names.push(name);
      }
      cli(['warehouse', 'import', path.join(tmp.dir, 'photos'), '--warehouse', wh]);
    }
  }, 300_000);

  it('writes one row per image into detections, typed and readable by DuckDB; other tasks\' rows leave the columns null', async () => {
    const selection = sharedMissing ? ['--all'] : ['--category', 'Portraits', '--depth', '2'];
    const run = JSON.parse(cli(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'blazeface', ...selection, '--snapshot', '2026-07-01', '--json', '--quiet'])) as { run_id: string; output: string; table: string; selected: number; ok: number };
    firstRun = run;
    expect(run.table).toBe('detections');
    expect(run.output).toBe(path.join(wh, 'detections', 'model=blazeface-1', 'snapshot=2026-07-01'));
    const glob = lit(path.join(run.output, '*.parquet'));
    const types = Object.fromEntries((await query(`DESCRIBE SELECT * FROM read_parquet(${glob})`)).map((r) => [r.column_name, String(r.column_type).replaceAll('"', '')]));
    expect(types).toMatchObject({
      detections: 'STRUCT(label VARCHAR, score FLOAT, x FLOAT, y FLOAT, w FLOAT, h FLOAT)[]',
      keypoints: 'FLOAT[][]',
      count: 'INTEGER',
      max_area_ratio: 'FLOAT',
      sum_area_ratio: 'FLOAT',
    });
    const rows = await query(`SELECT image_name, status, count, len(detections) AS n, len(keypoints) AS nk, max_area_ratio, sum_area_ratio, label, top_k, embedding, width, height,
        list_max(list_transform(detections, d -> d.w * d.h / (width * height))) AS max_by_hand FROM read_parquet(${glob}) ORDER BY image_name`);
    expect(rows.length).toBe(run.selected);
    for (const r of rows.filter((r) => r.status === 'ok')) {
      expect(Number(r.n), String(r.image_name)).toBe(r.count);
      expect(Number(r.nk)).toBe(r.count);
      expect([r.label, r.top_k, r.embedding]).toEqual([null, null, null]);
      if (Number(r.count) > 0) expect(Number(r.max_area_ratio)).toBeCloseTo(Number(r.max_by_hand), 4);
      else expect([r.max_area_ratio, r.sum_area_ratio]).toEqual([0, 0]);
    }
    for (const r of rows.filter((r) => r.status === 'error')) expect([r.count, r.detections]).toEqual([null, undefined]);
    if (!sharedMissing) {
      const byName = new Map(rows.map((r) => [r.image_name, r]));
      for (const f of FACES) expect(Number(byName.get(f.replace(/\.JPEG$/, '.jpg'))!.count), f).toBeGreaterThanOrEqual(1);
      // A filter is one WHERE: portraits, one face covering more than 5% of the photo.
      const portraits = (await query(`SELECT image_name FROM read_parquet(${glob}) WHERE count = 1 AND max_area_ratio > 0.05 ORDER BY 1`)).map((r) => r.image_name);
      expect(portraits).toContain('n02669723_academic_gown.jpg');
      expect(portraits).not.toContain('n03887697_paper_towel.jpg');
    }

    // --min-score overrides the card: at 0.999 (almost) nothing is left.
    const strict = JSON.parse(cli(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'blazeface', ...selection, '--snapshot', '2026-07-02', '--min-score', '0.999', '--json', '--quiet'])) as { output: string };
    const [sum] = await query(`SELECT sum(count)::INTEGER AS faces FROM read_parquet(${lit(path.join(strict.output, '*.parquet'))})`);
    const [before] = await query(`SELECT sum(count)::INTEGER AS faces FROM read_parquet(${glob})`);
    expect(Number(sum!.faces)).toBeLessThan(Math.max(1, Number(before!.faces)));

    // A classifier's rows in its own table leave the detector columns null, and the union_by_name view reads both.
    const q = JSON.parse(cli(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'quality-basic', ...selection, '--snapshot', '2026-07-01', '--json', '--quiet'])) as { output: string };
    const [cls] = await query(`SELECT count(*) FILTER (WHERE detections IS NOT NULL OR keypoints IS NOT NULL OR count IS NOT NULL OR max_area_ratio IS NOT NULL)::INTEGER AS set FROM read_parquet(${lit(path.join(q.output, '*.parquet'))})`);
    expect(cls!.set).toBe(0);
    const [mixed] = await query(`SELECT count(*)::INTEGER AS n, count(count)::INTEGER AS with_count FROM read_parquet([${glob}, ${lit(path.join(q.output, '*.parquet'))}], union_by_name = true)`);
    expect(mixed!.n).toBe(2 * run.selected);
    expect(mixed!.with_count).toBe(run.ok);
  }, 300_000);

  const chromium = chromiumMissing();
  if (chromium) console.warn(`SKIP the detector report in Chromium: ${chromium}`);
  it.skipIf(chromium !== null)('the report draws the boxes over the thumbnails where the table says, with counts, area chart and categories (real Chromium)', async () => {
    if (!firstRun) throw new Error('the run test did not run');
    const out = path.join(tmp.dir, 'report');
    const index = cli(['report', firstRun.run_id, '--partitions-dir', parts, '--out', out]).trim();
    const page = await HeadlessPage.open(1280, 900);
    try {
      await page.goto(`file://${index}`);
      const png = path.join(tmp.dir, 'detector-report.png');
      await page.screenshot(png);
      console.log(`detector report screenshot: ${png}`);
      const facts = await page.evaluate<{
        stats: Record<string, number>;
        countBars: Record<string, number>;
        areaBins: number;
        axisLabels: string[];
        images: { ok: boolean; full: string | null }[];
        figures: { name: string; boxes: number; link: string; rects: { left: number; top: number; width: number; height: number }[]; img: { left: number; top: number; width: number; height: number } }[];
        crosstab: { category: string; total: number; cells: number }[];
        sections: string[];
      }>(`(() => {
        const num = (s) => Number(String(s).replace(/,/g, ''));
        const stats = {};
        for (const el of document.querySelectorAll('[data-stat]')) stats[el.dataset.stat] = num(el.querySelector('.value').textContent);
        const countBars = {};
        for (const g of document.querySelectorAll('#face-counts g.bar')) countBars[g.dataset.label] = num(g.dataset.count);
        const areaBins = [...document.querySelectorAll('#face-area g.bin')].reduce((a, g) => a + num(g.dataset.count), 0);
        const axisLabels = [...document.querySelectorAll('.axis-label')].map((t) => t.textContent);
        const images = [...document.images].map((i) => ({ ok: i.complete && i.naturalWidth > 0, full: i.closest('a') ? i.closest('a').getAttribute('href') : null }));
        const box = (el) => { const r = el.getBoundingClientRect(); return { left: r.left, top: r.top, width: r.width, height: r.height }; };
        const figures = [...document.querySelectorAll('figure[data-boxes]')].filter((f) => f.querySelector('img')).map((f) => ({
          name: f.dataset.image, boxes: num(f.dataset.boxes), link: f.querySelector('figcaption a.name').getAttribute('href'),
          rects: [...f.querySelectorAll('svg.boxes rect:not(.halo)')].map(box), img: box(f.querySelector('img')),
        }));
        const crosstab = [...document.querySelectorAll('#category-crosstab tr[data-category]')].map((tr) => ({ category: tr.dataset.category, total: num(tr.dataset.count), cells: [...tr.querySelectorAll('td[data-count]')].reduce((a, td) => a + num(td.dataset.count), 0) }));
        const sections = [...document.querySelectorAll('section[id]')].map((s) => s.id);
        return { stats, countBars, areaBins, axisLabels, images, figures, crosstab, sections };
      })()`);
      const glob = lit(path.join(firstRun.output, '*.parquet'));
      const [t] = await query(`SELECT count(*)::INTEGER AS n, sum(count)::INTEGER AS faces, count(*) FILTER (WHERE count > 0)::INTEGER AS with_faces FROM read_parquet(${glob})`);
      expect(facts.stats).toMatchObject({ selected: t!.n, faces: t!.faces, with_faces: t!.with_faces });
      const dist = await query(`SELECT least(count, 6)::INTEGER AS c, count(*)::INTEGER AS n FROM read_parquet(${glob}) WHERE status = 'ok' GROUP BY ALL`);
      for (const { c, n } of dist) expect(facts.countBars[c === 6 ? '6 or more' : String(c)], `faces = ${c}`).toBe(n);
      expect(facts.areaBins).toBe(t!.with_faces);
      expect(facts.axisLabels).toEqual(expect.arrayContaining(['faces in the image', 'largest face area / image area', 'images']));
      expect(facts.sections).toEqual(expect.arrayContaining(['face-counts', 'face-area', 'errors', 'sample']));
      expect(facts.images.length).toBeGreaterThan(0);
      expect(facts.images.filter((i) => !i.ok)).toEqual([]);
      for (const i of facts.images) expect(existsSync(path.join(out, i.full!)), i.full!).toBe(true);
      // Each drawn box sits over the thumbnail where the table's detection is (original pixels scaled to the thumbnail).
      const detections = new Map((await query(`SELECT image_name, width, height, detections FROM read_parquet(${glob})`)).map((r) => [r.image_name, r]));
      if (!sharedMissing) {
        expect(facts.sections).toEqual(expect.arrayContaining(['gallery', 'most-faces']));
        expect(facts.figures.some((f) => f.boxes > 0)).toBe(true);
      }
      for (const f of facts.figures) {
        const row = detections.get(f.name)! as { width: number; height: number; detections: { x: number; y: number; w: number; h: number }[] };
        expect(f.boxes).toBe(row.detections.length);
        expect(f.rects).toHaveLength(f.boxes);
        expect(f.link).toBe(`https://commons.wikimedia.org/wiki/File:${encodeURIComponent(f.name)}`);
        const k = f.img.width / row.width;
        expect(f.img.height / row.height).toBeCloseTo(k, 1);
        row.detections.forEach((d, i) => {
          const r = f.rects[i]!;
          expect(Math.abs(r.left - (f.img.left + d.x * k)), `${f.name} box ${i} left`).toBeLessThan(1.5);
          expect(Math.abs(r.top - (f.img.top + d.y * k)), `${f.name} box ${i} top`).toBeLessThan(1.5);
          expect(Math.abs(r.width - d.w * k)).toBeLessThan(1.5);
          expect(Math.abs(r.height - d.h * k)).toBeLessThan(1.5);
        });
      }
      // By source category: each category row's cells add up to its total.
      expect(facts.crosstab.length).toBeGreaterThan(0);
      for (const c of facts.crosstab) expect(c.cells, c.category).toBe(c.total);
      if (!sharedMissing) expect(facts.crosstab.map((c) => c.category)).toContain('Portraits');
    } finally {
      page.close();
    }
  }, 300_000);

  it('compaction, incremental runs and export work for the detections table', async () => {
    const selection = sharedMissing ? ['--all'] : ['--category', 'Portraits', '--depth', '2'];
    const first = JSON.parse(cli(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'blazeface', ...selection, '--snapshot', '2026-07-10', '--partition-size', '2', '--json', '--quiet'])) as { output: string; selected: number };
    const inc = JSON.parse(cli(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'blazeface', ...selection, '--snapshot', '2026-07-11', '--incremental', '--json', '--quiet'])) as { output: string; selected: number; inferred: number };
    expect(inc.inferred).toBe(0);
    const sumOf = async (dir: string) => (await query(`SELECT count(*)::INTEGER AS n, sum(count)::INTEGER AS faces, sum(len(keypoints))::INTEGER AS kp FROM read_parquet(${lit(path.join(dir, '*.parquet'))})`))[0];
    const expected = await sumOf(first.output);
    expect(await sumOf(inc.output)).toEqual(expected);
    cli(['compact', '--warehouse', wh, '--table', 'detections', '--model', 'blazeface-1', '--snapshot', '2026-07-10']);
    expect(readdirSync(first.output).filter((f) => f.endsWith('.parquet'))).toHaveLength(1);
    expect(await sumOf(first.output)).toEqual(expected);
    const out = path.join(tmp.dir, 'export');
    cli(['export', '--warehouse', wh, '--table', 'detections', '--snapshot', '2026-07-10', '--model', 'blazeface-1', '--out', out]);
    const readme = readFileSync(path.join(out, 'README.md'), 'utf8');
    expect(readme).toContain('| detections | STRUCT("label" VARCHAR, score FLOAT, x FLOAT, y FLOAT, w FLOAT, h FLOAT)[] |');
    expect(await sumOf(path.join(out, 'data'))).toEqual(expected);
  }, 300_000);

  const redisMissing = redisUnavailable();
  if (redisMissing) console.warn(`SKIP the detector on the queue executor: ${redisMissing}`);
  it.skipIf(redisMissing !== null)('the queue executor and the pooled topology give the same detections as lanes, --min-score included', async () => {
    const selection = sharedMissing ? ['--all'] : ['--category', 'Portraits', '--depth', '2'];
    const columns = 'image_name, status, count, detections, keypoints, max_area_ratio, sum_area_ratio';
    const rowsOf = (output: string) => query(`SELECT ${columns} FROM read_parquet(${lit(path.join(output, '*.parquet'))}) ORDER BY image_name`);
    const base = ['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'blazeface', ...selection, '--min-score', '0.8', '--partition-size', '3', '--json', '--quiet'];
    const lanes = JSON.parse(cli([...base, '--snapshot', '2026-07-20'])) as { output: string };
    const expected = await rowsOf(lanes.output);
    const pooled = JSON.parse(cli([...base, '--snapshot', '2026-07-21', '--topology', 'pooled', '--batch-size', '4'])) as { output: string; topology: string };
    expect(pooled.topology).toMatch(/^pooled: .* batch 4, cpu$/); // batches of 4 on a graph with a fixed batch of 1
    expect(await rowsOf(pooled.output)).toEqual(expected);

    const redis = (await startRedis())!;
    const passwordFile = path.join(tmp.dir, 'redis-password');
    writeFileSync(passwordFile, `${redis.password}\n`);
    const worker = spawn(process.execPath, [CLI, 'worker', '--queue', 'faces', '--threads', '1', '--name', 'faces-worker'], { env: { ...process.env, REDIS_URL: redis.url }, stdio: 'ignore' });
    try {
      const driver = await imgpipeCollect([...base, '--snapshot', '2026-07-22', '--executor', 'queue', '--redis', `redis://127.0.0.1:${redis.port}`, '--redis-password-file', passwordFile, '--queue', 'faces', '--compact-below', '0']);
      expect(driver.code, driver.stderr).toBe(0);
      const queued = JSON.parse(driver.stdout) as { output: string };
      expect(await rowsOf(queued.output)).toEqual(expected);
    } finally {
      worker.kill('SIGKILL');
      await redis.stop();
    }
  }, 300_000);

  it('bad usage exits 2 naming the problem', async () => {
    const file = blazefaceCard('cli-bad-anchors', (c) => (c.output.encoding.groups[0].grid = 8));
    const cases: [string[], string][] = [
      [['run', '--warehouse', wh, '--partitions-dir', parts, '--model', file, '--all'], `anchors: 2×8² + 6×8² = 512, but outputs Identity_2:0 + Identity_3:0 have 512 + 384 = 896 rows`],
      [['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'blazeface', '--all', '--min-score', '1.5'], 'Expected a number between 0 and 1 for --min-score but received "1.5" of type string'],
      [['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'quality-basic', '--all', '--min-score', '0.5'], '--min-score is for detector models, but quality-basic-1 is a classifier'],
    ];
    for (const [args, message] of cases) {
      const r = await imgpipeInProcess(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(message);
    }
  });
});
