# segmentation: one job per clip; the backend is config["segmentation"]["backend"] (see README "Backends").


rule segmentation_clip:
    input:
        video=get_video,
    output:
        out=directory(f"{OUT}/semantic_segmentation/{{pid}}/{{gt}}/{{stem}}_DensePose"),
        prov=f"{OUT}/provenance/{{pid}}/{{gt}}/{{stem}}.segmentation.json",
    log:
        f"{OUT}/logs/segmentation_clip/{{pid}}/{{gt}}/{{stem}}.log",
    conda:
        conda_env("segmentation")
    threads: res("segmentation", "threads")
    resources:
        gpu=uses_gpu("segmentation"),
        mem_mb=res("segmentation", "mem_mb"),
        runtime=res("segmentation", "runtime"),
    params:
        spec=lambda w: job_spec("segmentation"),
        video=video_path,
        range=frame_range,
        root=tree_root,
    shell:
        "python -m gaitprep run segmentation --clip {wildcards.pid}/{wildcards.gt}/{wildcards.stem} --video {params.video:q}"
        " --root {params.root:q} --spec {params.spec:q} {params.range} > {log:q} 2>&1"


rule segmentation:
    input:
        targets("segmentation"),
