/**
 * The planner: streams a catalog selection into partition manifests, then writes run.json.
 * Memory holds one partition's refs at a time, whatever the selection's size.
 * If it throws, the plan folder is incomplete (no run.json) and is removed.
 */
import { rmSync } from 'node:fs';
import type { Catalog, Selection } from '../catalog/Catalog.js';
import { UsageError } from '../util/errors.js';
import { RunPlanDir, refToManifest, writeJsonAtomically, type PartitionManifest, type RunSpec } from './manifest.js';

export interface PlanResult {
  partitions: number;
  images: number;
}

export async function planRun(
  catalog: Catalog,
  selection: Selection,
  plan: RunPlanDir,
  spec: Omit<RunSpec, 'partitions' | 'images' | 'query' | 'format' | 'created_at'>,
): Promise<RunSpec> {
  let partitions = 0;
  let images = 0;
  let current: PartitionManifest['images'] = [];
  const flush = () => {
    writeJsonAtomically(plan.manifestPath(partitions), { format: 1, run_id: spec.run_id, partition: partitions, images: current } satisfies PartitionManifest);
    partitions++;
    current = [];
  };
  try {
    for await (const batch of catalog.select(selection, spec.partition_size)) {
      for (const ref of batch) {
        current.push(refToManifest(ref));
        images++;
        if (current.length === spec.partition_size) flush();
      }
    }
    if (current.length > 0) flush();
    if (images === 0) throw new UsageError(`The selection matched no images; nothing to run (${catalog.describe(selection).split('\n')[0]}).`);
    const run: RunSpec = { format: 1, created_at: new Date().toISOString(), query: catalog.describe(selection), ...spec, partitions, images };
    writeJsonAtomically(plan.runPath, run);
    return run;
  } catch (e) {
    rmSync(plan.dir, { recursive: true, force: true });
    throw e;
  }
}
