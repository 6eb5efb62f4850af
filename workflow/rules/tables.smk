# tables: the input CSVs written into the tree (gaitprep.healthgait.tables).


rule copy_input_table:
    # participants_measures.csv (in the spec's columns, those the input lacks empty) and
    # gait_parameters.csv (copied unchanged) from the user's files.
    input:
        lambda w: config[w.name],
    output:
        "{OUT}/{name}.csv".replace("{OUT}", OUT),
    log:
        f"{OUT}/logs/copy_input_table/{{name}}.log",
    wildcard_constraints:
        name="participants_measures|gait_parameters",
    localrule: True
    conda:
        "../envs/gaitprep.yaml"
    shell:
        "python -m gaitprep table {wildcards.name} --input {input:q} --output {output:q} > {log:q} 2>&1"
