# flow: one job per (clip, method); method TVL1 or GMFLOW comes from the engine's backend.


rule flow_clip:
    input:
        video=get_video,
    output:
        out=directory(f"{OUT}/optical_flow/{{pid}}/{{gt}}/{{method}}/{{stem}}"),
        prov=f"{OUT}/provenance/{{pid}}/{{gt}}/{{stem}}.flow.{{method}}.json",
    log:
        f"{OUT}/logs/flow_clip/{{pid}}/{{gt}}/{{method}}/{{stem}}.log",
    conda:
        conda_env("flow")
    threads: res("flow", "threads")
    resources:
        gpu=lambda w: uses_gpu("flow", w.method),
        mem_mb=res("flow", "mem_mb"),
        runtime=res("flow", "runtime"),
    params:
        spec=lambda w: job_spec("flow", w.method),
        video=video_path,
        range=frame_range,
        root=tree_root,
    shell:
        "python -m gaitprep run flow --clip {wildcards.pid}/{wildcards.gt}/{wildcards.stem} --video {params.video:q}"
        " --root {params.root:q} --spec {params.spec:q} {params.range} > {log:q} 2>&1"


rule flow:
    input:
        targets("flow"),
