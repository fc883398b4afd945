"""PIL baseline for `npm run bench` (decode only, the torchvision eval transform without torch):
open -> RGB -> resize shorter side to 256 (bilinear, antialiased as PIL does) -> center crop 224
-> float32 CHW normalized with ImageNet mean/std (what ToTensor + Normalize produce).

    python3 bench/pil_decode.py PROCESSES SECONDS FILE...
    python3 bench/pil_decode.py --decode-only PROCESSES SECONDS FILE...   (open + RGB, nothing else)
    python3 bench/pil_decode.py --draft PROCESSES SECONDS FILE...   (draft mode + crop box straight to 224)

Prints one JSON line: {"images_per_s": …, "processes": …, "pil": "…"}. Uses Debian's python3-pil and
python3-numpy (`apt-get install python3-pil python3-numpy`); the bench skips it, saying so, when absent.
"""
import json
import multiprocessing as mp
import sys
import time

import numpy as np
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(3, 1, 1)


def transform(path):
    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        if w <= h:
            ow, oh = 256, int(256 * h / w)
        else:
            ow, oh = int(256 * w / h), 256
        im = im.resize((ow, oh), Image.BILINEAR)
        left, top = round((ow - 224) / 2), round((oh - 224) / 2)
        im = im.crop((left, top, left + 224, top + 224))
        a = np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 255.0
        return (a - MEAN) / STD


def transform_draft(path):
    """The strongest simple PIL script: JPEG draft mode (DCT scaling to >= the needed size), then the
    crop box resized straight to 224 (one resample instead of resize + crop)."""
    with Image.open(path) as im:
        im.draft("RGB", (256, 256))
        im = im.convert("RGB")
        w, h = im.size
        s = 256 / min(w, h)
        ow, oh = int(w * s), int(h * s)
        left, top = round((ow - 224) / 2), round((oh - 224) / 2)
        box = (left / s, top / s, (left + 224) / s, (top + 224) / s)
        im = im.resize((224, 224), Image.BILINEAR, box=box)
        a = np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 255.0
        return (a - MEAN) / STD


def decode_only(path):
    with Image.open(path) as im:
        im.convert("RGB").load()


def worker(args):
    files, seconds, fn = args
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for f in files:
            fn(f)
            done += 1
    return done, time.perf_counter() - start


def main():
    args = sys.argv[1:]
    fn = transform
    if args and args[0] == "--decode-only":
        fn, args = decode_only, args[1:]
    elif args and args[0] == "--draft":
        fn, args = transform_draft, args[1:]
    processes, seconds, files = int(args[0]), float(args[1]), args[2:]
    with mp.Pool(processes) as pool:
        results = pool.map(worker, [(files, seconds, fn)] * processes)
    rate = sum(d / t for d, t in results)
    print(json.dumps({"images_per_s": round(rate, 1), "processes": processes, "pil": Image.__version__}))


if __name__ == "__main__":
    main()
