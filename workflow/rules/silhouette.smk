# silhouette: one job per clip; the backend is config["silhouette"]["backend"] (see README "Backends").


rule silhouette_clip:
    input:
        video=get_video,
    output:
        out=directory(f"{OUT}/silhouette/{{pid}}/{{gt}}/{{stem}}_YOLOV8"),
        prov=f"{OUT}/provenance/{{pid}}/{{gt}}/{{stem}}.silhouette.json",
    log:
        f"{OUT}/logs/silhouette_clip/{{pid}}/{{gt}}/{{stem}}.log",
    conda:
        conda_env("silhouette")
    threads: res("silhouette", "threads")
    resources:
        gpu=uses_gpu("silhouette"),
        mem_mb=res("silhouette", "mem_mb"),
        runtime=res("silhouette", "runtime"),
    params:
        spec=lambda w: job_spec("silhouette"),
        video=video_path,
        range=frame_range,
        root=tree_root,
    shell:
        "python -m gaitprep run silhouette --clip {wildcards.pid}/{wildcards.gt}/{wildcards.stem} --video {params.video:q}"
        " --root {params.root:q} --spec {params.spec:q} {params.range} > {log:q} 2>&1"


rule silhouette:
    input:
        targets("silhouette"),
