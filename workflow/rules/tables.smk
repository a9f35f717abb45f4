# Stage 3a: Tables 1-7 (results/tables/tableN.csv) and the out-of-domain evaluation of section 5.1.
# Table 1 reads no run: it is generated from config.yaml (its settings param).


include: "aggregation.smk"


rule make_table:
    input:
        runs=table_run_files,
        paper=f"{PAPER_DIR}/table{{n}}.csv",
    output:
        csv=report(
            f"{RESULTS}/tables/table{{n}}.csv",
            caption="../report/table.rst",
            category="Tables",
            labels={"table": "{n}"},
        ),
    params:
        settings=aggregation_settings,
    log:
        f"{RESULTS}/logs/make_table/table{{n}}.log",
    wildcard_constraints:
        n="[1-7]",
    conda:
        "../../environment.yml"
    script:
        "../scripts/make_table.py"


rule evaluate_ood:
    input:
        best=f"{RESULTS}/runs/{{regime}}/arithmetic/{{model}}/seed{{seed}}/best.pt",
    output:
        csv=f"{RESULTS}/ood/{{regime}}/arithmetic/{{model}}/seed{{seed}}/ood.csv",
    params:
        data=config["data"],
    log:
        f"{RESULTS}/logs/evaluate_ood/{{regime}}/{{model}}/seed{{seed}}.log",
    wildcard_constraints:
        regime="main|controlled",
        model="n14|n28|n56|mlt",
        seed=r"\d+",
    conda:
        "../../environment.yml"
    script:
        "../scripts/evaluate_ood.py"
