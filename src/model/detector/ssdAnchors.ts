/**
 * SSD anchor centres as MediaPipe's SsdAnchorsCalculator lays them out (fixed anchor size 1):
 * groups in card order; in each, cells row by row (y, then x), `anchors_per_cell` anchors per cell
 * at ((x + offset)/grid, (y + offset)/grid). Returned as one Float32Array of (x, y) pairs, so the
 * decoder reads anchor i at [2i, 2i + 1] without per-anchor objects.
 */
export interface AnchorGroup {
  grid: number;
  anchors_per_cell: number;
}

export function anchorCount(groups: readonly AnchorGroup[]): number {
  return groups.reduce((n, g) => n + g.anchors_per_cell * g.grid * g.grid, 0);
}

/** "2×16² + 6×8² = 896", for messages. */
export function describeAnchors(groups: readonly AnchorGroup[]): string {
  return `${groups.map((g) => `${g.anchors_per_cell}×${g.grid}²`).join(' + ')} = ${anchorCount(groups)}`;
}

export function ssdAnchors(groups: readonly AnchorGroup[], offset: number): Float32Array {
  const out = new Float32Array(anchorCount(groups) * 2);
  let at = 0;
  for (const g of groups) {
    for (let y = 0; y < g.grid; y++) {
      const cy = (y + offset) / g.grid;
      for (let x = 0; x < g.grid; x++) {
        const cx = (x + offset) / g.grid;
        for (let a = 0; a < g.anchors_per_cell; a++) {
          out[at++] = cx;
          out[at++] = cy;
        }
      }
    }
  }
  return out;
}
