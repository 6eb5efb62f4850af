# gait: events and spatio-temporal parameters from each clip's pose (docs/gait.md).
# One job per clip (gaitprep gait-clip), then one table over all clips (gait-aggregate).


include: "gait_common.smk"


rule gait_clip:
    input:
        pose=f"{OUT}/pose/{{pid}}/{{gt}}/{{stem}}_AlphaPose.json",
        prov=f"{OUT}/provenance/{{pid}}/{{gt}}/{{stem}}.pose.json",
        overrides=gait_overrides,
    output:
        steps=f"{OUT}/gait_steps/{{pid}}/{{gt}}/{{stem}}.parquet",
        steps_csv=f"{OUT}/gait_steps/{{pid}}/{{gt}}/{{stem}}.csv",
        summary=f"{OUT}/gait_steps/{{pid}}/{{gt}}/{{stem}}.summary.json",
        qc=f"{OUT}/qc/gait/{{pid}}/{{gt}}/{{stem}}.png",
    log:
        f"{OUT}/logs/gait_clip/{{pid}}/{{gt}}/{{stem}}.log",
    priority: rule_priority("gait")
    conda:
        "../envs/gaitprep.yaml"
    threads: 1
    resources:
        mem_mb=res("gait", "mem_mb"),
        runtime=res("gait", "runtime"),
    params:
        calibration=gait_calibration,
        # the participant's measures row: an edited Height reruns the clip (tracked, not passed)
        measures_row=gait_measures_row,
        # never leave an estimation table computed from older summaries beside a rerun clip
        aggregate=f"{OUT}/gait_parameters_estimation.csv",
        method=config.get("gait", {}).get("method", "zeni"),
        lengths=config.get("gait", {}).get("lengths", "contacts"),
        offsets=lambda w: (
            "--event-offsets {HS},{TO}".format(**config["gait"]["event_offsets_s"])
            if (config.get("gait") or {}).get("event_offsets_s")
            else ""
        ),
        overrides=lambda w, input: (f"--overrides {shlex.quote(input.overrides[0])}" if input.overrides else ""),
    shell:
        "rm -f {params.aggregate:q}; python -m gaitprep gait-clip --pose {input.pose:q} --provenance {input.prov:q} --clip {wildcards.pid}/{wildcards.gt}/{wildcards.stem} --calibration {params.calibration:q} --method {params.method} --lengths {params.lengths} {params.offsets} {params.overrides} --steps {output.steps:q} --summary {output.summary:q} --qc {output.qc:q} > {log:q} 2>&1"


rule gait_aggregate:
    input:
        summaries=[clip_path("{OUT}/gait_steps/{pid}/{gt}/{stem}.summary.json", k) for k in CLIPS],
    output:
        f"{OUT}/gait_parameters_estimation.csv",
    log:
        f"{OUT}/logs/gait_aggregate/gait_aggregate.log",
    localrule: True
    conda:
        "../envs/gaitprep.yaml"
    shell:
        "python -m gaitprep gait-aggregate --summaries {input.summaries:q} --out {output:q} > {log:q} 2>&1"


rule gait:
    input:
        targets("gait"),
