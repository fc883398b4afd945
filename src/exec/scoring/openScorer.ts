/**
 * Choose and open the topology for a device (Scorer.ts):
 *   --topology auto (default): `pooled` when CUDA was asked for (`--device cuda|auto`) and its
 *     provider loads, else `lanes`;
 *   --topology lanes | pooled: as asked, on whatever device loads.
 * Defaults measured on CPU (bench/RESULTS.md): lanes = cores, 1 intra-op thread, batch 1 (onnxruntime's
 * cheapest per image on CPU); on GPU: decode threads = cores, batch 64.
 */
import type { LoadedModel } from '../../model/loadModelCard.js';
import { CUDA_MISSING_WARNING, cudaProviderInstalled, type Device } from '../../model/ModelSession.js';
import { invalidParameterError } from '../../util/is.js';
import type { Scorer } from './Scorer.js';
import { LaneScorer, machineCores, PooledScorer } from './ThreadScorers.js';

export type TopologyChoice = 'auto' | 'lanes' | 'pooled';
export const TOPOLOGY_CHOICES: readonly TopologyChoice[] = ['auto', 'lanes', 'pooled'];

export interface ScorerOptions {
  device: Device;
  /** @defaultValue 'auto' */
  topology?: TopologyChoice;
  /** Lanes (lanes topology). @defaultValue the cores */
  lanes?: number;
  /** Decode threads (pooled topology). @defaultValue the cores */
  threads?: number;
  /** Intra-op threads per session. @defaultValue 1 in a lane; onnxruntime's choice (the cores) in pooled */
  inferenceThreads?: number;
  /** Images per inference call; 0 or undefined: 1 in lanes, 64 on GPU, 16 pooled on CPU. */
  batchSize?: number;
  /** Receives a warning when CUDA was asked for but CPU runs instead. @defaultValue stderr */
  warn?: (message: string) => void;
}

export async function openScorer(model: Pick<LoadedModel, 'cardPath' | 'card'>, options: ScorerOptions): Promise<Scorer> {
  const topology = options.topology ?? 'auto';
  if (!TOPOLOGY_CHOICES.includes(topology)) throw invalidParameterError('--topology', `one of: ${TOPOLOGY_CHOICES.join(', ')}`, topology);
  const warn = options.warn ?? ((m: string) => process.stderr.write(`imgpipe: warning: ${m}\n`));
  const ref = { card: model.cardPath, sha256: model.card.sha256 };
  const cores = machineCores();
  const batch = (fallback: number) => (options.batchSize && options.batchSize > 0 ? options.batchSize : fallback);
  const lanes = (device: Device) =>
    LaneScorer.open({ model: ref, device, lanes: options.lanes ?? options.threads ?? cores, intraOpThreads: options.inferenceThreads ?? 1, batchSize: batch(1) });
  const pooled = (device: Device, batchFallback: number) =>
    PooledScorer.open({ model: ref, device, decodeThreads: options.threads ?? cores, intraOpThreads: options.inferenceThreads ?? 0, batchSize: batch(batchFallback) });

  const wantsCuda = options.device !== 'cpu';
  const hasCuda = cudaProviderInstalled();
  if (options.device === 'cuda' && !hasCuda) {
    warn(CUDA_MISSING_WARNING);
  }
  const device: Device = wantsCuda && hasCuda ? options.device : 'cpu';
  if (topology === 'lanes') return lanes(device);
  if (topology === 'pooled') return pooled(device, device === 'cpu' ? 16 : 64);
  if (device === 'cpu') return lanes('cpu');
  const gpu = await pooled(device, 64);
  if (gpu.topology.provider === 'cuda') return gpu;
  await gpu.close(); // CUDA did not load (the thread warned): CPU, so lanes
  return lanes('cpu');
}
