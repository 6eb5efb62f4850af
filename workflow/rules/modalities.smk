# pose, silhouette, segmentation, flow: one job per clip (per clip and method for flow),
# all four rules from this one definition; what differs per modality and backend is in
# modalities_common.smk (inputs: the video, the shared BlazePose intermediate, or the
# clip's pose and silhouettes). Each job is `gaitprep run <modality>`; its declared output
# is its provenance record (and the pose JSON), written after the atomic output.


include: "modalities_common.smk"


for _m in ("pose", "silhouette", "segmentation", "flow"):

    rule:
        name:
            f"{_m}_clip"
        input:
            unpack(clip_rule_input(_m)),
        output:
            **clip_rule_output(_m),
        log:
            clip_rule_log(_m),
        priority: rule_priority(_m)
        conda:
            conda_env(_m)
        threads: clip_rule_threads(_m)
        resources:
            gpu=clip_rule_gpu(_m),
            mem_mb=res(_m, "mem_mb"),
            runtime=res(_m, "runtime"),
        params:
            modality=_m,
            spec=clip_rule_spec(_m),
            video=video_path,
            range=frame_range,
            root=tree_root,
            noise=NATIVE_LOG_NOISE,
        shell:
            "python -m gaitprep run {params.modality} --clip {wildcards.pid}/{wildcards.gt}/{wildcards.stem}"
            " --video {params.video:q} --root {params.root:q} --spec {params.spec:q} {params.range} 2>&1"
            " | {{ grep -v -E {params.noise:q} || true; }} > {log:q}"
            " && tail -n 1 {log:q} >&2"

    rule:
        name:
            _m
        input:
            targets(_m),
