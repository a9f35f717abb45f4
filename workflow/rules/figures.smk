# Stage 3b: Figures 1-7 (PNG and PDF). Figures 1-6 read the runs of one regime and task; Figure 7 reads
# the extended MLT run when it exists (a GPU experiment) and otherwise says "not run here", with the
# CPU-sized longer-training runs (experiments.long_training) drawn beside it.


rule make_figure:
    input:
        runs=figure_run_files,
        captions=f"{PAPER_DIR}/captions.yaml",
    output:
        png=report(
            f"{RESULTS}/figures/figure{{n}}.png",
            caption="../report/figure.rst",
            category="Figures",
            labels={"figure": "{n}"},
        ),
        pdf=f"{RESULTS}/figures/figure{{n}}.pdf",
    params:
        settings=aggregation_settings,
        extended_dir=EXTENDED_RUN_DIR,
        stand_in_runs=figure_stand_in_runs,
    log:
        f"{RESULTS}/logs/make_figure/figure{{n}}.log",
    wildcard_constraints:
        n="[1-7]",
    conda:
        "../../environment.yml"
    script:
        "../scripts/make_figure.py"
