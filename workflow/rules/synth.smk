# synth: render the synthetic demo walker(s) with their ground truth (no data, no download).


rule synth:
    output:
        video=f"{DEMO}/{{pid}}_{{gt}}_{{stem}}.mp4",
        truth=f"{DEMO}/{{pid}}_{{gt}}_{{stem}}.truth.json",
    log:
        f"{OUT}/logs/synth/{{pid}}_{{gt}}_{{stem}}.log",
    priority: rule_priority("synth")
    conda:
        "../envs/gaitprep.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        walker=lambda w: walker_args(DEMO_CLIPS[clip_key(w)].get("walker", {})),
    shell:
        "python -m gaitprep synth --out {output.video:q} --truth {output.truth:q} {params.walker} > {log:q} 2>&1"
