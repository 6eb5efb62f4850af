# pose: one job per clip; the backend is config["pose"]["backend"] (see README "Backends").


rule pose_clip:
    input:
        video=get_video,
    output:
        json=f"{OUT}/pose/{{pid}}/{{gt}}/{{stem}}_AlphaPose.json",
        prov=f"{OUT}/provenance/{{pid}}/{{gt}}/{{stem}}.pose.json",
    log:
        f"{OUT}/logs/pose_clip/{{pid}}/{{gt}}/{{stem}}.log",
    conda:
        conda_env("pose")
    threads: res("pose", "threads")
    resources:
        gpu=uses_gpu("pose"),
        mem_mb=res("pose", "mem_mb"),
        runtime=res("pose", "runtime"),
    params:
        spec=lambda w: job_spec("pose"),
        video=video_path,
        range=frame_range,
        root=tree_root,
    shell:
        "python -m gaitprep run pose --clip {wildcards.pid}/{wildcards.gt}/{wildcards.stem} --video {params.video:q}"
        " --root {params.root:q} --spec {params.spec:q} {params.range} > {log:q} 2>&1"


rule pose:
    input:
        targets("pose"),
