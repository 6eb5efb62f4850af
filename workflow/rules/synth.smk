# synth: render the synthetic demo walker(s) with their ground truth (no data, no download).


def walker_args(walker):
    """Config `walker:` mapping -> `gaitprep synth` flags ({step_length: 65} -> --step-length 65)."""
    return " ".join(f"--{k.replace('_', '-')} {shlex.quote(str(v))}" for k, v in walker.items())


rule synth:
    output:
        video=f"{DEMO}/{{pid}}_{{gt}}_{{stem}}.mp4",
        truth=f"{DEMO}/{{pid}}_{{gt}}_{{stem}}.truth.json",
    log:
        f"{OUT}/logs/synth/{{pid}}_{{gt}}_{{stem}}.log",
    params:
        walker=lambda w: walker_args(DEMO_CLIPS[clip_key(w)].get("walker", {})),
    conda:
        "../envs/gaitprep.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "{PY} synth --out {output.video:q} --truth {output.truth:q} {params.walker} > {log:q} 2>&1"
