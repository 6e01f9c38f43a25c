"""A/B: cold pulls by an older modelreg tree and this one, alternating, same S3 server and registry.

    git archive OLD_COMMIT tool schemas | tar -x -C /tmp/old
    python bench/ab_pull.py /tmp/old/tool [REPS]

OLD's `modelreg.artifacts.pull.pull(registry, ref, dest=...)` (the API before issue 9) is timed
against this tree's `Registry.pull`, each in a fresh process, in process and as the CLI.
"""
import os, shutil, subprocess, sys, tempfile, time, statistics
from pathlib import Path
HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE)); sys.path.insert(0, str(HERE / "tool"))
from tests.plugins.s3server import ACCESS_KEY, SECRET_KEY, S3Server, weed_binary
BIN = Path(sys.executable).parent
work = Path(tempfile.mkdtemp(prefix="ab9-"))
server = S3Server(weed_binary(), work / "weed"); server.start()
env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_DEFAULT_REGION": "us-east-1",
       "DVC_NO_ANALYTICS": "1", "PYTHONPATH": str(HERE / "tool")}
try:
    bucket = server.make_bucket()
    src = work / "src"; src.mkdir()
    for i in (1, 2):
        with open(src / f"model-0000{i}-of-00002.safetensors", "wb") as fh:
            for _ in range(31): fh.write(os.urandom(8 << 20))
    (src / "config.json").write_text("{}")
    reg = work / "reg"
    def run(args, **kw):
        subprocess.run(args, check=True, capture_output=True, env={**env, **kw})
    run([sys.executable, "-m", "modelreg", "init", str(reg), "--remote", f"s3://{bucket}/store", "--endpoint-url", server.endpoint])
    run([sys.executable, "-m", "modelreg", "-C", str(reg), "model", "register", "m", "--type", "base_model"])
    run([sys.executable, "-m", "modelreg", "-C", str(reg), "version", "create", "m", str(src)])
    inproc = {"old": "from modelreg.artifacts.pull import pull as p; f=lambda: p(r, 'm@1', dest=out)",
              "new": "f=lambda: r.pull('m@1', dest=out)"}
    paths = {"old": sys.argv[1], "new": str(HERE / "tool")}
    res = {k: [] for k in ("old-in", "new-in", "old-cli", "new-cli")}
    for rep in range(int(sys.argv[2]) if len(sys.argv) > 2 else 5):
        for v in ("old", "new"):
            cache = work / "cache"; shutil.rmtree(cache, ignore_errors=True); shutil.rmtree(work / "out", ignore_errors=True)
            code = (f"import time; from modelreg import Registry; {inproc[v]}\n"
                    f"r = Registry({str(reg)!r}); out={str(work / 'out')!r}\n"
                    "t=time.perf_counter(); f(); print(time.perf_counter()-t)")
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                 env={**env, "PYTHONPATH": paths[v], "MODELREG_CACHE": str(cache)}).stdout
            res[f"{v}-in"].append(float(out.split()[-1]))
            shutil.rmtree(cache, ignore_errors=True); shutil.rmtree(work / "out", ignore_errors=True)
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "modelreg", "-C", str(reg), "pull", "m@1", "-q", "-o", str(work / "out")],
                           check=True, capture_output=True, env={**env, "PYTHONPATH": paths[v], "MODELREG_CACHE": str(cache)})
            res[f"{v}-cli"].append(time.perf_counter() - t)
    for k, v in res.items():
        print(k, f"median {statistics.median(v):.3f}", " ".join(f"{x:.2f}" for x in v))
finally:
    server.stop(); shutil.rmtree(work, ignore_errors=True)
