# gaitprep: raw walking videos -> the Health&Gait tree (see README.md).
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/synth.smk"
include: "workflow/rules/modalities.smk"
include: "workflow/rules/gait.smk"
include: "workflow/rules/qc.smk"
include: "workflow/rules/run_report.smk"


rule all:
    default_target: True
    input:
        all_targets(),
