# Too Big to Think: the replication pipeline. A table of contents; the rules live in workflow/rules/.
#   snakemake --cores 8 --resources gpu=1                      everything (MLT runs need a CUDA GPU)
#   snakemake --cores 2 -- results/tables/table3.csv           one table and only the runs it needs
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


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
