# Stage 4: the paper's claims checked (results/claims.csv) and the one-page report (results/report.html).


rule check_claims:
    input:
        claims=f"{PAPER_DIR}/claims.yaml",
        runs=claim_run_files(),
        ood=ood_targets(),
    output:
        csv=report(f"{RESULTS}/claims.csv", caption="../report/claims.rst", category="Claims"),
    params:
        settings=aggregation_settings,
        extended_dir=EXTENDED_RUN_DIR,
    log:
        f"{RESULTS}/logs/check_claims.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/make_claims.py"


rule render_report:
    input:
        tables=expand(rules.make_table.output.csv, n=TABLE_NUMBERS),
        figures=expand(rules.make_figure.output.png, n=FIGURE_NUMBERS),
        claims=rules.check_claims.output.csv,
        ood=ood_targets(),
        experiments=experiment_report_inputs(),  # the experiments switched on (experiments.smk)
        blog=blog_report_inputs(),  # the blog experiment's section (blog.smk)
        template="workflow/report/report.html.j2",
        captions=f"{PAPER_DIR}/captions.yaml",
    output:
        html=report(f"{RESULTS}/report.html", caption="../report/report.rst", category="Report"),
    params:
        tables=TABLE_NUMBERS,
        figures=FIGURE_NUMBERS,
        extended_dir=EXTENDED_RUN_DIR,
    log:
        f"{RESULTS}/logs/render_report.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/render_report.py"
