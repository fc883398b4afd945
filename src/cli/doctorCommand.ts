/**
 * `imgpipe doctor`: what this machine can run — node, cores, sharp/libvips and their formats,
 * onnxruntime-node and the execution providers that actually load a model here, CUDA visibility.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { projectModelsDir } from '../model/loadModelCard.js';
import { packageVersion } from './packageVersion.js';

interface ProviderCheck {
  provider: string;
  loads: boolean;
  detail: string;
}

async function checkProvider(provider: 'cpu' | 'cuda', onnx: string): Promise<ProviderCheck> {
  const ort = await import('onnxruntime-node');
  try {
    const s = await ort.InferenceSession.create(onnx, { executionProviders: [provider], logSeverityLevel: 3 });
    await s.release();
    return { provider, loads: true, detail: 'a session opens' };
  } catch (e) {
    return { provider, loads: false, detail: (e as Error).message.split('\n')[0]!.slice(0, 200) };
  }
}

function nvidiaSmi(): string | null {
  try {
    return execFileSync('nvidia-smi', ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader'], { encoding: 'utf8', timeout: 5000 }).trim();
  } catch {
    return null;
  }
}

export async function doctorReport() {
  // Loaded here, not at start-up: every other command starts without them.
  const ort = await import('onnxruntime-node');
  const { default: sharp } = await import('sharp');
  const onnx = path.join(projectModelsDir(), 'color-embed', 'model.onnx');
  const formats = Object.entries(sharp.format)
    .filter(([, f]) => f.input.buffer)
    .map(([k]) => k)
    .sort();
  return {
    imgpipe: packageVersion(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: os.availableParallelism(),
    cpu_model: os.cpus()[0]?.model ?? 'unknown',
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    sharp: sharp.versions.sharp,
    libvips: sharp.versions.vips,
    jpeg: (sharp.versions as Record<string, string | undefined>).mozjpeg ? `mozjpeg ${(sharp.versions as Record<string, string>).mozjpeg}` : 'libjpeg',
    decode_formats: formats,
    onnxruntime_node: ort.env.versions.node,
    onnxruntime_backends: ort.listSupportedBackends().map((b) => b.name),
    providers: [await checkProvider('cpu', onnx), await checkProvider('cuda', onnx)],
    nvidia_smi: nvidiaSmi(),
  };
}

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('Show versions, image formats, execution providers that load, cores and GPUs.')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      const r = await doctorReport();
      if (flags.json) {
        process.stdout.write(JSON.stringify(r, null, 2) + '\n');
        return;
      }
      const lines = [
        `imgpipe          ${r.imgpipe}`,
        `node             ${r.node} (${r.platform})`,
        `cpus             ${r.cpus} × ${r.cpu_model}, ${r.memory_gib} GiB`,
        `sharp            ${r.sharp}, libvips ${r.libvips}, ${r.jpeg}`,
        `decode formats   ${r.decode_formats.join(', ')}`,
        `onnxruntime-node ${r.onnxruntime_node} (backends: ${r.onnxruntime_backends.join(', ')})`,
        ...r.providers.map((p) => `  ${p.provider.padEnd(5)} ${p.loads ? 'loads' : 'not available'}${p.loads ? '' : ` — ${p.detail}`}`),
        `GPU              ${r.nvidia_smi ?? 'none visible (nvidia-smi not found or failed)'}`,
      ];
      if (!r.providers.find((p) => p.provider === 'cuda')?.loads) {
        lines.push('', 'CUDA: this install is CPU-only. On a GPU node: ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node --foreground-scripts');
      }
      process.stdout.write(lines.join('\n') + '\n');
    });
}
