# tables: the input CSVs copied through into the tree.


rule copy_input_table:
    # participants_measures.csv and gait_parameters.csv are inputs copied through into the tree.
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
        "cp {input:q} {output:q} 2> {log}"
