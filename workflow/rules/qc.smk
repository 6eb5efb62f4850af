# qc: what a person looks at (`snakemake --report report.html`): per clip a montage of
# frames x modalities and the gait event plot, and the run summary table. Local, cheap
# jobs: `snakemake qc` reruns them without redoing the modalities, and on a cluster they
# run on the submit host. Also the per-clip split of the manual event overrides.


include: "qc_common.smk"


report: "../report/workflow.rst"


localrules:
    qc_montage,
    qc_gait_plot,
    qc_gait_table,
    qc_summary,
    split_event_overrides,


rule qc_montage:
    input:
        unpack(qc_montage_inputs),
        video=get_video,
    output:
        report(
            f"{OUT}/qc/montage/{{pid}}/{{gt}}/{{stem}}.png",
            caption="../report/montage.rst",
            category="Clips",
            subcategory="{pid}/{gt}/{stem}",
            labels={"clip": "{pid}/{gt}/{stem}", "figure": "modalities montage"},
        ),
    log:
        f"{OUT}/logs/qc_montage/{{pid}}/{{gt}}/{{stem}}.log",
    conda:
        "../envs/gaitprep.yaml"
    params:
        args=qc_montage_args,
        video=video_path,
        range=frame_range,
    shell:
        "python -m gaitprep qc-montage --out {output:q} --video {params.video:q} {params.range}"
        " --title {wildcards.pid}/{wildcards.gt}/{wildcards.stem} {params.args} > {log:q} 2>&1"


rule qc_gait_plot:
    # the gait rule's event plot, copied under qc/report/ to enter the report
    input:
        f"{OUT}/qc/gait/{{pid}}/{{gt}}/{{stem}}.png",
    output:
        report(
            f"{OUT}/qc/report/gait/{{pid}}/{{gt}}/{{stem}}.png",
            caption="../report/gait_events.rst",
            category="Clips",
            subcategory="{pid}/{gt}/{stem}",
            labels={"clip": "{pid}/{gt}/{stem}", "figure": "gait events"},
        ),
    log:
        f"{OUT}/logs/qc_gait_plot/{{pid}}/{{gt}}/{{stem}}.log",
    conda:
        "../envs/gaitprep.yaml"
    shell:
        "cp {input:q} {output:q} 2> {log:q}"


rule qc_gait_table:
    # the gait parameters table, copied under qc/report/ to enter the report
    input:
        f"{OUT}/gait_parameters_estimation.csv",
    output:
        report(
            f"{OUT}/qc/report/gait_parameters_estimation.csv",
            caption="../report/gait_parameters.rst",
            category="Results",
            labels={"table": "gait_parameters_estimation.csv"},
        ),
    log:
        f"{OUT}/logs/qc_gait_table/gait_parameters_estimation.log",
    conda:
        "../envs/gaitprep.yaml"
    shell:
        "cp {input:q} {output:q} 2> {log:q}"


rule qc_summary:
    input:
        qc_summary_inputs,
    output:
        csv=report(
            f"{OUT}/qc/run_summary.csv",
            caption="../report/run_summary.rst",
            category="Run summary",
            labels={"table": "CSV"},
        ),
        html=report(
            f"{OUT}/qc/run_summary.html",
            caption="../report/run_summary.rst",
            category="Run summary",
            labels={"table": "HTML"},
        ),
    log:
        f"{OUT}/logs/qc_summary/run_summary.log",
    conda:
        "../envs/gaitprep.yaml"
    params:
        root=lambda w, output: str(Path(output.csv).parent.parent),
        jobs=lambda w: ",".join(qc_jobs()),
        clips=lambda w: ",".join(CLIPS),
        failed=qc_failed_jobs,
        problems=lambda w: json.dumps({k: BAD_CLIPS[k] for k in CLIPS if k in BAD_CLIPS}),
    shell:
        "python -m gaitprep qc-summary --root {params.root:q} --jobs {params.jobs} --clips {params.clips:q}"
        " --problems {params.problems:q} --csv {output.csv:q} --html {output.html:q} > {log:q} 2>&1"


rule split_event_overrides:
    # one clip's rows of the event overrides TSV; its params are those rows, so editing the
    # TSV reruns this job, and the clip's gait job after it, only for the clips it changes
    output:
        f"{OUT}/gait_overrides/{{pid}}/{{gt}}/{{stem}}.tsv",
    log:
        f"{OUT}/logs/gait_overrides/{{pid}}/{{gt}}/{{stem}}.log",
    conda:
        "../envs/gaitprep.yaml"
    params:
        rows=clip_overrides,
    shell:
        "python -m gaitprep qc-overrides --clip {wildcards.pid}/{wildcards.gt}/{wildcards.stem}"
        " --rows={params.rows:q} --out {output:q} > {log:q} 2>&1"


rule qc:
    input:
        lambda w: qc_targets(),
