# Too Big to Think: the replication pipeline. A table of contents; the rules live in workflow/rules/.
#   snakemake --cores 8 --resources gpu=1                      everything (MLT runs need a CUDA GPU)
#   snakemake --cores 2 -- results/tables/table3.csv           one table and only the runs it needs
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


# Aggregation takes seconds: on a cluster (profiles/slurm) it runs where Snakemake runs, not as queued jobs.
localrules:
    all,
    make_table,
    make_figure,
    check_claims,
    render_report,
    make_ood_table,
    make_extended_table,
    make_sensitivity_table,
    score_blog_answers,
    plot_blog_dynamics,
    make_blog_prediction_table,
    judge_blog_claims,
    compare_blog_learn_to_stop,
    write_blog_summary,


include: "workflow/rules/common.smk"
include: "workflow/rules/datasets.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/training_stacked.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/experiments.smk"
include: "workflow/rules/blog.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        get_final_outputs(),
    default_target: True
