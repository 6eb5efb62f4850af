# export: outputs people open in other tools, outside the Health&Gait folders (the tree
# stays the spec's): pose as .trc marker files for OpenSim, Pose2Sim and Sports2D
# (gaitprep export-trc, src/gaitprep/export/trc.py). Built when config `exports: {trc: true}`
# (EXPORT_TARGETS) or by the target rule `export`.


#: the .trc files of every clip when `exports.trc` is set (for `rule all`), else none
EXPORT_TARGETS = (
    [clip_path("{OUT}/exports/trc/{pid}/{gt}/{stem}_px.trc", k) for k in CLIPS]
    if (config.get("exports") or {}).get("trc")
    else []
)


rule export_trc:
    input:
        pose=f"{OUT}/pose/{{pid}}/{{gt}}/{{stem}}_AlphaPose.json",
        prov=f"{OUT}/provenance/{{pid}}/{{gt}}/{{stem}}.pose.json",
        # the clip's gait summary (its calibration gives the metre file) when gait is built
        summary=lambda w: ([f"{OUT}/gait_steps/{w.pid}/{w.gt}/{w.stem}.summary.json"] if "gait" in MODALITIES else []),
    output:
        # the metre file (<stem>_m.trc, beside these) is written only for a calibrated clip;
        # _trc.json says which files were written and why there is no metre file
        px=f"{OUT}/exports/trc/{{pid}}/{{gt}}/{{stem}}_px.trc",
        info=f"{OUT}/exports/trc/{{pid}}/{{gt}}/{{stem}}_trc.json",
    log:
        f"{OUT}/logs/export_trc/{{pid}}/{{gt}}/{{stem}}.log",
    localrule: True
    conda:
        "../envs/gaitprep.yaml"
    params:
        m=lambda w: f"{OUT}/exports/trc/{w.pid}/{w.gt}/{w.stem}_m.trc",
        summary=lambda w, input: (f"--summary {shlex.quote(input.summary[0])}" if input.summary else ""),
    shell:
        "python -m gaitprep export-trc --pose {input.pose:q} --provenance {input.prov:q} {params.summary}"
        " --px {output.px:q} --m {params.m:q} --info {output.info:q} > {log:q} 2>&1"


rule export:
    input:
        [clip_path("{OUT}/exports/trc/{pid}/{gt}/{stem}_px.trc", k) for k in CLIPS],
