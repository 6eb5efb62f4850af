# gait: placeholder until the gait-parameter rules land (workflow/rules/gait.smk).


rule gait:
    input:
        targets("pose"),
